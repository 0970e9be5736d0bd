/**
 * The words of an access request, as people type them in every text channel:
 *
 *   p0 request aws role AdminRole --reason "deploy hotfix" --duration 1h --wait      (the CLI)
 *   /p0 request aws role AdminRole --reason "deploy hotfix" --duration 1h            (Slack)
 *   @P0 request aws role AdminRole --reason "deploy hotfix" --duration 1h            (Teams)
 *
 * One grammar so both accept exactly the same words and refuse the same mistakes with the same
 * message. Pure: no I/O, no clock; it uses only the duration rule (shared/duration.ts, which the
 * server's policy uses too), so a duration is judged by the same words everywhere. The CLI (which
 * imports nothing but shared/) and the chat adapters (Slack, Teams) import it. Syntax only: whether the
 * resource exists and whether the duration is allowed is the access policy's business, on the server.
 *
 * Channel-specific words: `--wait`, `--timeout` and `--json` drive the terminal (block until access
 * works, print JSON) and mean nothing in a chat, so they are CLI-only. Parsed with
 * `{ channel: 'slack' }` or `'teams'` they are refused with the same kind of error as any other
 * mistake ("--wait only works in the p0 CLI: ..."), and the usage line shows the chat's form. Everything
 * else, including the words added for later server features (`--account`/`--resource`,
 * `--namespace`, `--start-at`, `--break-glass`), is shared.
 */

import { DurationFormatError, parseDurationMs } from './duration';

export type RequestChannel = 'cli' | 'slack' | 'teams';

/** What `p0 request ...` / `/p0 request ...` asked for. */
export interface ParsedRequest {
  provider: string;
  kind: string;
  target: string;
  reason?: string;
  /** As typed, syntax checked (`90s`, `15m`, `2h`, `1d`); the policy checks the range. */
  duration?: string;
  /** Which catalog resource, e.g. an AWS account name (`--account` and `--resource` are the same word). */
  resource?: string;
  /** Kubernetes namespace (for the k8s provider). */
  namespace?: string;
  /** When access should start, as an ISO 8601 instant (normalized to UTC, `...Z`). */
  startAt?: string;
  /** Emergency access under the policy's break-glass rules. */
  breakGlass: boolean;
  /** CLI only: block until the access is usable (or the request ends). */
  wait: boolean;
  /** CLI only: print JSON instead of text. */
  json: boolean;
  /** CLI only: how long `--wait` waits, as typed (e.g. `10m`). */
  timeout?: string;
  /** `timeout` in seconds. */
  timeoutSeconds?: number;
}

/** The body of `POST /v1/requests` for a parsed request: only the fields that were given. */
export interface CreateRequestBody {
  provider: string;
  kind: string;
  target: string;
  reason?: string;
  duration?: string;
  resource?: string;
  namespace?: string;
  startAt?: string;
  breakGlass?: true;
}

export interface RequestOption {
  /** The long name, with its dashes. */
  name: string;
  /** Placeholder of its value in the usage line (`TEXT`, `2h`); absent for a flag. */
  value?: string;
  /** A realistic value, for "needs a value" messages. */
  example?: string;
  description: string;
  /** Channels that accept it. */
  channels: readonly RequestChannel[];
  /** Its value is a duration word (checked as it is read). */
  isDuration?: boolean;
  /** Left out of the one-line usage (aliases, words for later providers); still in help. */
  notInUsage?: boolean;
}

const ALL_CHANNELS: readonly RequestChannel[] = ['cli', 'slack', 'teams'];

/** Every option of the request grammar, in the order help shows them. */
export const REQUEST_OPTIONS: readonly RequestOption[] = [
  { name: '--reason', value: 'TEXT', example: '"deploy hotfix"', description: 'why you need it, shown to approvers (quote it if it has spaces)', channels: ALL_CHANNELS },
  { name: '--duration', value: '2h', example: '2h', description: "how long: a whole number and a unit, e.g. 90s, 15m, 2h, 1d (default: the policy's)", channels: ALL_CHANNELS, isDuration: true },
  { name: '--account', value: 'NAME', example: 'production', description: 'which catalog resource, e.g. an AWS account (same as --resource)', channels: ALL_CHANNELS },
  { name: '--resource', value: 'NAME', example: 'production', description: 'same as --account', channels: ALL_CHANNELS, notInUsage: true },
  { name: '--namespace', value: 'NAME', example: 'payments', description: 'Kubernetes namespace (k8s resources)', channels: ALL_CHANNELS, notInUsage: true },
  { name: '--start-at', value: 'TIME', example: '2026-05-04T09:00', description: 'start later: an ISO 8601 time, e.g. 2026-05-04T09:00 or 2026-05-04T09:00+02:00', channels: ALL_CHANNELS },
  { name: '--break-glass', description: 'emergency access under the break-glass policy', channels: ALL_CHANNELS },
  { name: '--wait', description: 'wait until the access is verified usable (exit 0) or the request ends', channels: ['cli'] },
  { name: '--timeout', value: '10m', example: '10m', description: 'with --wait: stop waiting after this long (default 10m, then exit 4)', channels: ['cli'], isDuration: true },
  { name: '--json', description: 'print the request as JSON', channels: ['cli'] },
];

/** `--account` and `--resource` name the same thing. */
const ALIASES: Record<string, string> = { '--resource': '--account' };

export const DEFAULT_WAIT_TIMEOUT = '10m';

/**
 * A name a shell reads as one plain word: nothing to expand, quote, glob or separate. Catalog names
 * (targets, contexts) must be such names, and shell completion offers only such names, so a name
 * from the API can never run as a command on TAB (`$(touch /tmp/x)`).
 */
export const SHELL_SAFE_NAME = /^[A-Za-z0-9._:/@+=,-]+$/;
export const SHELL_SAFE_NAME_DESCRIPTION = 'use letters, digits and . _ : / @ + = , - only (no spaces or shell characters such as $ ` ; | & < > ( ) * ? quotes or \\)';

/** How each channel's people start the command. */
const COMMAND_PREFIX: Record<RequestChannel, string> = { cli: 'p0', slack: '/p0', teams: '@P0' };

/** The usage line of the request command in a channel, for error messages and help. */
export function requestUsage(channel: RequestChannel = 'cli'): string {
  const options = REQUEST_OPTIONS.filter((option) => option.channels.includes(channel) && !option.notInUsage).map(
    (option) => `[${option.name}${option.value ? ` ${option.value}` : ''}]`,
  );
  return `${COMMAND_PREFIX[channel]} request <provider> <kind> <target> ${options.join(' ')}`;
}

/** A mistake in the words: `message` names the problem and ends with the usage line. */
export class RequestGrammarError extends Error {
  override readonly name = 'RequestGrammarError';
  constructor(
    /** The problem alone, without the usage line. */
    readonly problem: string,
    readonly usage: string = requestUsage('cli'),
  ) {
    super(`${problem}\nusage: ${usage}`);
  }
}

/** A unit typed as a separate word (`2 hours`), to quote the whole phrase in the error. */
const SPELLED_UNIT = /^(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)$/i;

/**
 * Seconds in a duration word (`90s`, `15m`, `2h`, `1d`), or a RequestGrammarError naming `option`.
 * The same strict rule as the server's: one whole number, one unit, so `2 hours` or `1h30m` never
 * silently become a different length of access.
 */
export function parseDurationWord(text: string, option = '--duration', usage = requestUsage('cli')): number {
  let ms: number;
  try {
    ms = parseDurationMs(text);
  } catch (error) {
    // The server's own rule and words (shared/duration.ts), named after the option typed.
    if (error instanceof DurationFormatError) throw new RequestGrammarError(`${option}: ${error.message}`, usage);
    throw error;
  }
  if (ms % 1000 !== 0) throw new RequestGrammarError(`${option}: "${text}" is not a duration: use whole seconds (s, m, h or d)`, usage);
  return ms / 1000;
}

// A date, optionally a time (minutes, seconds, fractions) and a zone (Z or an offset).
const START_AT_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?(Z|[+-]\d{2}:?\d{2})?$/i;

function parseStartAt(text: string, channel: RequestChannel, usage: string): string {
  const notATime = () =>
    new RequestGrammarError(`--start-at: "${text}" is not a time: use ISO 8601, e.g. 2026-05-04T09:00 or 2026-05-04T09:00+02:00`, usage);
  const match = START_AT_PATTERN.exec(text.trim());
  if (!match) throw notATime();
  const [, year, month, day, time, zone] = match;
  // Date.parse rolls 2026-02-30 over to March: check the calendar first.
  const calendar = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (calendar.getUTCFullYear() !== Number(year) || calendar.getUTCMonth() !== Number(month) - 1 || calendar.getUTCDate() !== Number(day)) throw notATime();
  // Always with a time, so a date alone is local midnight like a date-time without zone (Date.parse
  // would read a bare date as UTC).
  const local = `${year}-${month}-${day}T${time ?? '00:00'}`;
  // A chat message has no time zone of its own (the server's is nobody's), so there it must be explicit.
  if (!zone && channel !== 'cli') {
    throw new RequestGrammarError(`--start-at: "${text}" has no time zone: add one, e.g. ${local}Z or ${local}+02:00`, usage);
  }
  const instant = Date.parse(`${local}${zone ?? ''}`);
  if (Number.isNaN(instant)) throw notATime();
  return new Date(instant).toISOString();
}

/**
 * Parses the words after `request` (`['aws', 'role', 'AdminRole', '--reason', 'deploy', ...]`).
 * Options may come before, between or after the three positional words, as `--name value` or
 * `--name=value`; `--` ends the options (for a target that starts with a dash).
 *
 * @throws RequestGrammarError naming the problem, with the channel's usage line.
 */
export function parseRequestWords(words: readonly string[], options: { channel?: RequestChannel } = {}): ParsedRequest {
  const channel = options.channel ?? 'cli';
  const usage = requestUsage(channel);
  function fail(problem: string): never {
    throw new RequestGrammarError(problem, usage);
  }

  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  let lastValueOption: string | undefined;
  let optionsEnded = false;

  for (let index = 0; index < words.length; index += 1) {
    const word = words[index]!;
    if (optionsEnded || !word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    if (word === '--') {
      optionsEnded = true;
      continue;
    }
    const equals = word.indexOf('=');
    const typedName = equals >= 0 ? word.slice(0, equals) : word;
    const spec = REQUEST_OPTIONS.find((option) => option.name === typedName);
    if (!spec) {
      const hint = typedName.startsWith('--') ? '' : ' (options start with two dashes, e.g. --reason)';
      fail(`unknown option ${typedName}${hint}`);
    }
    if (!spec.channels.includes(channel)) fail(channelOnlyProblem(spec.name));
    const name = ALIASES[spec.name] ?? spec.name;
    const repeated = values.has(name) || flags.has(name);
    if (repeated) fail(`${typedName} is given twice`);

    if (!spec.value) {
      if (equals >= 0) fail(`${typedName} takes no value`);
      flags.add(name);
      continue;
    }
    let value: string | undefined;
    if (equals >= 0) {
      value = word.slice(equals + 1);
    } else {
      const next = words[index + 1];
      // `--reason --wait` forgot the reason: a value that looks like an option is not taken.
      if (next !== undefined && !(next.startsWith('--') && next.length > 2)) {
        value = next;
        index += 1;
      }
    }
    if (value === undefined || value.trim() === '') fail(`${typedName} needs a value, e.g. ${typedName} ${spec.example ?? spec.value}`);
    if (spec.isDuration) {
      // `--duration 2 hours`: name the whole phrase, not just "2".
      const unitWord = equals < 0 && /^\d+$/.test(value.trim()) ? words[index + 1] : undefined;
      const typed = unitWord !== undefined && SPELLED_UNIT.test(unitWord) ? `${value} ${unitWord}` : value;
      parseDurationWord(typed, typedName, usage);
    }
    values.set(name, value);
    lastValueOption = typedName;
  }

  const [provider, kind, target, ...extra] = positionals;
  if (provider === undefined) fail('say what you need: a provider, a kind and a target, e.g. aws role AdminRole');
  if (kind === undefined) fail(`missing the kind of ${provider} access and its target, e.g. ${provider} role AdminRole`);
  if (target === undefined) fail(`missing the target: which ${provider} ${kind}?`);
  if (extra.length > 0) {
    const quoteHint = lastValueOption === '--reason' ? ': put a reason with spaces in quotes, e.g. --reason "deploy hotfix"' : '';
    fail(`unexpected word${extra.length > 1 ? 's' : ''} ${extra.map((word) => `"${word}"`).join(' ')} after the target${quoteHint}`);
  }

  const duration = values.get('--duration');
  const timeout = values.get('--timeout');
  const timeoutSeconds = timeout === undefined ? undefined : parseDurationWord(timeout, '--timeout', usage);
  if (timeout !== undefined && !flags.has('--wait')) fail('--timeout only applies with --wait');
  const startAt = values.get('--start-at');

  const parsed: ParsedRequest = {
    provider,
    kind,
    target,
    breakGlass: flags.has('--break-glass'),
    wait: flags.has('--wait'),
    json: flags.has('--json'),
  };
  const reason = values.get('--reason');
  if (reason !== undefined) parsed.reason = reason;
  if (duration !== undefined) parsed.duration = duration.trim();
  const resource = values.get('--account');
  if (resource !== undefined) parsed.resource = resource;
  const namespace = values.get('--namespace');
  if (namespace !== undefined) parsed.namespace = namespace;
  if (startAt !== undefined) parsed.startAt = parseStartAt(startAt, channel, usage);
  if (timeout !== undefined) {
    parsed.timeout = timeout.trim();
    parsed.timeoutSeconds = timeoutSeconds;
  }
  return parsed;
}

function channelOnlyProblem(option: string): string {
  if (option === '--wait' || option === '--timeout') return `${option} only works in the p0 CLI: here p0 tells you when the access is ready`;
  return `${option} only works in the p0 CLI`;
}

/** The API body for a parsed request: only what was given (the server refuses unknown fields). */
export function createRequestBody(parsed: ParsedRequest): CreateRequestBody {
  const body: CreateRequestBody = { provider: parsed.provider, kind: parsed.kind, target: parsed.target };
  if (parsed.reason !== undefined) body.reason = parsed.reason;
  if (parsed.duration !== undefined) body.duration = parsed.duration;
  if (parsed.resource !== undefined) body.resource = parsed.resource;
  if (parsed.namespace !== undefined) body.namespace = parsed.namespace;
  if (parsed.startAt !== undefined) body.startAt = parsed.startAt;
  if (parsed.breakGlass) body.breakGlass = true;
  return body;
}

const DOUBLE_QUOTES: Record<string, string> = { '"': '"', '\u201C': '\u201D' };
const CLOSING_DOUBLE_QUOTES = new Set(['"', '\u201D']);

/**
 * Splits a one-line command into words the way a POSIX shell would, minus expansions:
 * whitespace separates words; 'single quotes' keep everything literally; "double quotes" keep
 * spaces, with \" and \\ as escapes; outside quotes a backslash keeps the next character. Quotes
 * may join parts of one word (`--reason="a b"`). Slack turns "..." into “...” as you type, so curly
 * double quotes count as double quotes (curly single quotes stay literal: they are apostrophes
 * far more often than quotes).
 *
 * @throws RequestGrammarError for an unterminated quote or a trailing backslash.
 */
export function tokenizeCommandLine(text: string, usage = requestUsage('slack')): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      index += 1;
      continue;
    }
    inWord = true;
    if (char === '\\') {
      if (index + 1 >= text.length) throw new RequestGrammarError('the command ends with a backslash: remove it or escape it as \\\\', usage);
      current += text[index + 1];
      index += 2;
      continue;
    }
    if (char === "'") {
      const end = text.indexOf("'", index + 1);
      if (end < 0) throw new RequestGrammarError(`unterminated ' quote: close it, e.g. --reason 'deploy hotfix'`, usage);
      current += text.slice(index + 1, end);
      index = end + 1;
      continue;
    }
    if (DOUBLE_QUOTES[char] !== undefined) {
      index += 1;
      let closed = false;
      while (index < text.length) {
        const inner = text[index]!;
        if (CLOSING_DOUBLE_QUOTES.has(inner)) {
          closed = true;
          index += 1;
          break;
        }
        if (inner === '\\' && (text[index + 1] === '"' || text[index + 1] === '\\')) {
          current += text[index + 1];
          index += 2;
          continue;
        }
        current += inner;
        index += 1;
      }
      if (!closed) throw new RequestGrammarError('unterminated " quote: close it, e.g. --reason "deploy hotfix"', usage);
      continue;
    }
    current += char;
    index += 1;
  }
  if (inWord) words.push(current);
  return words;
}

/**
 * A whole one-line command as a chat sends it: `request aws role AdminRole --reason "..."`, with or
 * without a leading `/p0`. The Slack adapter's entry point.
 */
export function parseRequestCommandLine(text: string, options: { channel?: RequestChannel } = {}): ParsedRequest {
  const channel = options.channel ?? 'slack';
  const usage = requestUsage(channel);
  const words = tokenizeCommandLine(text, usage);
  if (words[0] === '/p0' || words[0] === 'p0' || words[0] === '@P0') words.shift();
  if (words[0] !== 'request') {
    throw new RequestGrammarError(words.length === 0 ? 'say what you need, e.g. request aws role AdminRole' : `unknown command "${words[0]}": start with request`, usage);
  }
  return parseRequestWords(words.slice(1), { channel });
}
