/**
 * What a chat command asks for (`/p0 <text>` in Slack, `@P0 <text>` in Teams): help, the request
 * form, or a one-line request. The one-line request goes through the shared request grammar
 * (shared/requestGrammar.ts) exactly as `p0 request ...` in the CLI does, so all accept the same
 * words and refuse the same mistakes with the same messages. Pure.
 */
import {
  parseRequestCommandLine,
  parseRequestWords,
  RequestGrammarError,
  requestUsage,
  tokenizeCommandLine,
  type ParsedRequest,
  type RequestChannel,
} from './requestGrammar';
import type { CatalogEntry } from './catalog';
import type { RequestForm } from './requestForm';

export type RequestCommandIntent =
  | { kind: 'help' }
  /** Open the request form, pre-filled with what the words named. */
  | { kind: 'form'; prefill: RequestPrefill }
  /** A complete one-line request. */
  | { kind: 'request'; parsed: ParsedRequest }
  /** A mistake, in the grammar's words (ends with the usage line). */
  | { kind: 'error'; message: string };

/** What a partial command named: catalog words (kind/target) still to be matched against the catalog. */
export interface RequestPrefill extends RequestForm {
  kind?: string;
  target?: string;
}

const HELP_WORDS = new Set(['help', '--help', '-h']);
/**
 * Stands in for the positional words a partial command left out, so the shared grammar can check
 * everything else it said. An invisible separator: nobody types it.
 */
const MISSING = '\u2063';

export function interpretRequestCommand(text: string, channel: RequestChannel): RequestCommandIntent {
  const usage = requestUsage(channel);
  let words: string[];
  try {
    words = tokenizeCommandLine(text, usage);
  } catch (error) {
    if (error instanceof RequestGrammarError) return { kind: 'error', message: error.message };
    throw error;
  }
  if (words.length === 0 || HELP_WORDS.has(words[0]!)) return { kind: 'help' };
  if (words[0] !== 'request') {
    // The grammar's own words for anything that is not a request ("unknown command ...").
    try {
      parseRequestCommandLine(text, { channel });
    } catch (error) {
      if (error instanceof RequestGrammarError) return { kind: 'error', message: error.message };
      throw error;
    }
    return { kind: 'help' };
  }
  const rest = words.slice(1);
  if (rest.some((word) => word === '--help' || word === '-h')) return { kind: 'help' };
  if (rest.length === 0) return { kind: 'form', prefill: {} };
  try {
    return { kind: 'request', parsed: parseRequestWords(rest, { channel }) };
  } catch (error) {
    if (!(error instanceof RequestGrammarError)) throw error;
    const partial = parsePartial(rest, channel);
    return partial ? { kind: 'form', prefill: partial } : { kind: 'error', message: error.message };
  }
}

/**
 * The words of a request that only lacks some of its positional words (`aws`, `aws role`), checked
 * by the shared grammar: undefined when anything else is wrong with them.
 */
function parsePartial(words: readonly string[], channel: RequestChannel): RequestPrefill | undefined {
  for (let missing = 1; missing <= 3; missing += 1) {
    let parsed: ParsedRequest;
    try {
      parsed = parseRequestWords([...words, ...Array<string>(missing).fill(MISSING)], { channel });
    } catch {
      continue;
    }
    // A stand-in taken as an option's value (`aws --reason`) means the option had none: not partial.
    if ([parsed.reason, parsed.resource, parsed.namespace].includes(MISSING)) return undefined;
    const given = (word: string) => (word === MISSING ? undefined : word);
    return {
      provider: given(parsed.provider),
      kind: given(parsed.kind),
      target: given(parsed.target),
      resource: parsed.resource,
      reason: parsed.reason,
      duration: parsed.duration,
      breakGlass: parsed.breakGlass || undefined,
    };
  }
  return undefined;
}

/**
 * The form's starting values for a partial command: the provider, and the resource and level when
 * the words (kind, target, --account) leave only one of them among what this person may request.
 */
export function prefillForm(catalog: readonly CatalogEntry[], prefill: RequestPrefill): RequestForm {
  const form: RequestForm = { reason: prefill.reason, duration: prefill.duration, breakGlass: prefill.breakGlass };
  if (prefill.provider === undefined) return form;
  form.provider = prefill.provider;
  const matching = catalog.filter(
    (entry) =>
      entry.provider === prefill.provider &&
      (prefill.kind === undefined || entry.kind === prefill.kind) &&
      (prefill.target === undefined || entry.target === prefill.target) &&
      (prefill.resource === undefined || entry.resource === prefill.resource),
  );
  const resources = [...new Set(matching.map((entry) => entry.resource))];
  if (resources.length === 1) form.resource = resources[0];
  else if (prefill.resource !== undefined) form.resource = prefill.resource;
  if (matching.length === 1 && (prefill.kind !== undefined || prefill.target !== undefined)) form.level = matching[0]!.level;
  return form;
}
