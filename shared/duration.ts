/**
 * Durations as people type them: `90s`, `15m`, `2h`, `1d` (one whole number, one unit; config files
 * may also use `ms` for poll intervals). Strict on purpose: `1h30m` or `2 hours` are refused with a
 * message saying what is accepted, so a typo never silently becomes a different length of access.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

export class DurationFormatError extends Error {
  override readonly name = 'DurationFormatError';
}

export function parseDurationMs(text: string, options: { allowZero?: boolean } = {}): number {
  const match = DURATION_PATTERN.exec(String(text).trim());
  if (!match) {
    throw new DurationFormatError(
      `"${text}" is not a duration: use a whole number and one unit, e.g. 90s, 15m, 2h or 1d`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms)) throw new DurationFormatError(`"${text}" is not a duration: it is too large`);
  if (ms === 0 && !options.allowZero) {
    throw new DurationFormatError(`"${text}" is not a duration: it must be longer than zero`);
  }
  return ms;
}

/** The shortest exact spelling of a number of seconds, e.g. 7200 -> `2h`, 90 -> `90s`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds > 0 && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
