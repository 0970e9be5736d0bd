/**
 * A request form in a chat (Slack's modal, Teams' card): resource type, then resource, then access
 * level, then reason and duration, each offering only what the caller's catalog holds. Pure: the
 * chats build their own markup around these choices, so both offer and narrow them the same way.
 */
import type { CatalogEntry } from './catalog';
import { formatDuration, parseDurationMs } from './duration';

/** What a request form holds (or was pre-filled with). */
export interface RequestForm {
  provider?: string;
  resource?: string;
  /** The level's name within the resource. */
  level?: string;
  reason?: string;
  duration?: string;
  breakGlass?: boolean;
}

/** Choices offered when a level names no presets, kept within its bounds. */
const DURATION_LADDER = ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '1d', '2d', '3d', '7d'];

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
  result.level = pick(levelsOf(catalog, result.provider, result.resource).map((entry) => entry.level), form.level);
  return result;
}

/** The resource types (providers) in the catalog, in catalog order. */
export function providersOf(catalog: readonly CatalogEntry[]): string[] {
  return distinct(catalog.map((entry) => entry.provider));
}

/** The resources of one provider, in catalog order. */
export function resourcesOf(catalog: readonly CatalogEntry[], provider: string): string[] {
  return distinct(catalog.filter((entry) => entry.provider === provider).map((entry) => entry.resource));
}

/** The access levels of one resource. */
export function levelsOf(catalog: readonly CatalogEntry[], provider: string, resource: string): CatalogEntry[] {
  return catalog.filter((entry) => entry.provider === provider && entry.resource === resource);
}

/** The catalog entry the form has chosen, if it has chosen one. */
export function chosenEntry(catalog: readonly CatalogEntry[], form: RequestForm): CatalogEntry | undefined {
  if (form.level === undefined) return undefined;
  return catalog.find((entry) => entry.provider === form.provider && entry.resource === form.resource && entry.level === form.level);
}

/**
 * The durations offered for a level: its presets, else a ladder within its bounds with its default;
 * at most `max` of them.
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

/** The hint under a reason field: who sees it, and what it must contain. */
export function reasonHint(entry: CatalogEntry | undefined): string {
  if (entry?.reasonPatternDescription) return `Approvers see it. It must contain ${entry.reasonPatternDescription}.`;
  if (entry?.requireReason) return 'Approvers see it. This access level requires a reason.';
  return 'Approvers see it.';
}

export function approvalsWording(count: number): string {
  return count === 1 ? 'one approval' : `${count} approvals`;
}

/**
 * Which field a request-service refusal is about: "reason: ..." the reason, "duration: ..." the
 * duration, "breakGlass: ..." the break-glass choice; anything else is about what was asked for.
 */
export function refusalField(message: string): { field: 'reason' | 'duration' | 'breakGlass' | undefined; text: string } {
  const match = /^(reason|duration|breakGlass): /.exec(message);
  return match ? { field: match[1] as 'reason' | 'duration' | 'breakGlass', text: message.slice(match[0].length) } : { field: undefined, text: message };
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
