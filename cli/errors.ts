/**
 * How the p0 CLI ends. Every failure is a CliError: `p0: <message>` on stderr and its exit code,
 * never a stack trace (main.ts turns anything else into the same one line).
 */

/** The exit codes scripts can rely on (docs/cli.md lists them). */
export const EXIT_CODES = {
  /** Done; with --wait: the access is active (verified usable). */
  ok: 0,
  /** An error (usage, API, network), or with --wait: the request failed, or ended (expired, relinquished, revoked) before p0 saw it active. */
  error: 1,
  /** With --wait: the request ended without approval (denied, cancelled, or timed out waiting for a decision): nothing was granted. */
  notApproved: 2,
  /** p0 reconcile: a removal (or re-provisioning) failed, or a provider could not be checked. */
  incomplete: 3,
  /** With --wait: --timeout passed while the request was still on its way; it goes on without us. */
  waitTimedOut: 4,
  /** Ctrl-C while waiting; the request goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_CODES.error,
  ) {
    super(message);
  }
}

/** The CLI's words for any thrown value: the message alone, never a stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
