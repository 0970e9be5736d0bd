/**
 * The request form every channel shows (the Slack modal, the Teams card, the web page's Request Access dialog):
 * resource type, then resource, then access level, each offering only what the catalog lets this
 * person request; the level's durations and reason rule; and where a refusal of the request service
 * belongs in the form. Pure functions over the catalog, so every form behaves the same.
 */
import type { CatalogEntry } from './catalog';
import { formatDuration, parseDurationMs } from './duration';

/** What the request form holds (or was pre-filled with). */
export interface RequestForm {
  provider?: string;
  resource?: string;
  /** The level's name within the resource. */
  level?: string;
  reason?: string;
  duration?: string;
  breakGlass?: boolean;
}

/** The form's fields a refusal can point at. */
export type RequestFormField = 'provider' | 'resource' | 'level' | 'reason' | 'duration' | 'breakGlass' | 'startAt';

/** How people name resource types and durations ("AWS", "1 hour"): with the other wording, in requestWords.ts. */
export { humanDuration, providerLabel } from './requestWords';

/** The distinct resource types, resources of a type, and levels of a resource the catalog offers. */
export function providersOf(catalog: readonly CatalogEntry[]): string[] {
  return distinct(catalog.map((entry) => entry.provider));
}

export function resourcesOf(catalog: readonly CatalogEntry[], provider: string | undefined): string[] {
  return distinct(catalog.filter((entry) => entry.provider === provider).map((entry) => entry.resource));
}

export function levelsOf(catalog: readonly CatalogEntry[], provider: string | undefined, resource: string | undefined): CatalogEntry[] {
  return catalog.filter((entry) => entry.provider === provider && entry.resource === resource);
}

/**
 * The form with every choice checked against what this person may request: unknown choices are
 * dropped (with everything that depends on them), and a step with a single possible answer is
 * answered.
 */
export function normalizeForm(catalog: readonly CatalogEntry[], form: RequestForm): RequestForm {
  const result: RequestForm = { reason: form.reason, duration: form.duration, breakGlass: form.breakGlass };
  result.provider = pick(providersOf(catalog), form.provider);
  if (result.provider === undefined) return result;
  result.resource = pick(resourcesOf(catalog, result.provider), form.resource);
  if (result.resource === undefined) return result;
  result.level = pick(
    levelsOf(catalog, result.provider, result.resource).map((entry) => entry.level),
    form.level,
  );
  return result;
}

/** The catalog entry the form has chosen, if it has chosen one. */
export function chosenEntry(catalog: readonly CatalogEntry[], form: RequestForm): CatalogEntry | undefined {
  if (form.level === undefined) return undefined;
  return catalog.find((entry) => entry.provider === form.provider && entry.resource === form.resource && entry.level === form.level);
}

/** Choices offered when a level names no presets, kept within its bounds. */
const DURATION_LADDER = ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '1d', '2d', '3d', '7d'];

/**
 * The durations offered for a level: its presets, else a ladder within its bounds with its default;
 * shortest first, at most `max` of them (a chat's select holds only so many).
 */
export function durationChoices(entry: CatalogEntry, wanted?: string, max = 100): string[] {
  const minMs = parseDurationMs(entry.minDuration);
  const maxMs = parseDurationMs(entry.maxDuration);
  const within = (text: string) => {
    const ms = safeDurationMs(text);
    return ms !== undefined && ms >= minMs && ms <= maxMs;
  };
  const candidates = entry.durationPresets.length > 0 ? [...entry.durationPresets] : [...DURATION_LADDER.filter(within), entry.defaultDuration, entry.maxDuration];
  if (candidates.length === 0) candidates.push(entry.minDuration);
  if (wanted !== undefined && within(wanted)) candidates.push(wanted);
  // One spelling per length (90m and 1h30m... are the same length: keep the shortest spelling).
  const byMs = new Map<number, string>();
  for (const candidate of candidates) {
    const ms = safeDurationMs(candidate);
    if (ms !== undefined) byMs.set(ms, formatDuration(ms / 1000));
  }
  return [...byMs.entries()].sort(([a], [b]) => a - b).map(([, text]) => text).slice(0, max);
}

/** The level's reason rule, in words: what the requester must write. */
export function reasonRule(entry: CatalogEntry | undefined): string {
  if (entry?.reasonPatternDescription) return `Approvers see it. It must contain ${entry.reasonPatternDescription}.`;
  if (entry?.requireReason) return 'Approvers see it. This access level requires a reason.';
  return 'Approvers see it.';
}

/** "one approval", "2 approvals". */
export function approvalsWording(count: number): string {
  return count === 1 ? 'one approval' : `${count} approvals`;
}

/**
 * Where a request-service refusal belongs in the form: "reason: ..." under the reason, "duration:
 * ..." under the duration (likewise breakGlass and startAt), and anything about what was asked for
 * (such as "This resource doesn't exist") under the deepest choice made so far.
 */
export function refusalField(form: RequestForm, message: string): { field: RequestFormField; text: string } {
  const named = /^(reason|duration|breakGlass|startAt): /.exec(message);
  if (named) return { field: named[1] as RequestFormField, text: message.slice(named[0].length) };
  if (form.resource !== undefined) return { field: 'level', text: message };
  if (form.provider !== undefined) return { field: 'resource', text: message };
  return { field: 'provider', text: message };
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function pick(choices: readonly string[], wanted: string | undefined): string | undefined {
  if (wanted !== undefined && choices.includes(wanted)) return wanted;
  return choices.length === 1 ? choices[0] : undefined;
}

function safeDurationMs(text: string): number | undefined {
  try {
    return parseDurationMs(text);
  } catch {
    return undefined;
  }
}
