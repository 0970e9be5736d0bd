/**
 * `--wait`: follow a request until the access is verified usable or the request ends, by polling
 * `GET /v1/requests/:id`. On a terminal, one status line that updates in place (spinner, where the
 * request stands, elapsed time); otherwise one plain line per change, each starting with the id,
 * so logs and scripts can read it.
 */
import type { RequestStatus, RequestView } from '../shared/request';
import { ApiError, UnreachableError, type ApiClient } from './api';
import { CliError, EXIT_CODES, type ExitCode } from './errors';
import { describeStatus, describeTarget, formatElapsed, type OutputStream } from './output';

/** What `--wait` makes of each status: keep waiting, or stop with an exit code. */
const WAIT_OUTCOME: Record<RequestStatus, { done: false } | { done: true; exitCode: ExitCode }> = {
  pending: { done: false },
  approved: { done: false },
  provisioning: { done: false },
  active: { done: true, exitCode: EXIT_CODES.ok },
  denied: { done: true, exitCode: EXIT_CODES.notApproved },
  cancelled: { done: true, exitCode: EXIT_CODES.notApproved },
  timed_out: { done: true, exitCode: EXIT_CODES.notApproved },
  failed: { done: true, exitCode: EXIT_CODES.error },
  expired: { done: true, exitCode: EXIT_CODES.error },
  relinquished: { done: true, exitCode: EXIT_CODES.error },
  revoked: { done: true, exitCode: EXIT_CODES.error },
};

export interface WaitOptions {
  timeoutMs: number;
  /** Where progress goes (stdout, or stderr when stdout carries JSON). */
  progress: OutputStream;
  pollIntervalMs?: number;
  /** The first line's verb: a request just made, or one followed again (`p0 status --wait`). */
  intro?: 'requested' | 'following';
  /** Consecutive failed polls (network, 5xx) tolerated before giving up. */
  maxRetries?: number;
}

export interface WaitResult {
  view: RequestView;
  exitCode: ExitCode;
  /** Why it stopped, for stderr when it is not a success; undefined when access is active. */
  problem?: string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

export async function waitForRequest(api: ApiClient, initial: RequestView, options: WaitOptions): Promise<WaitResult> {
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const maxRetries = options.maxRetries ?? 4;
  const display = new ProgressDisplay(options.progress, initial, options.intro ?? 'requested');
  const startedAt = Date.now();
  const deadline = startedAt + options.timeoutMs;
  let view = initial;
  let failures = 0;

  const onInterrupt = () => {
    display.stop();
    process.stderr.write(`\np0: stopped waiting; ${view.id} goes on (p0 status ${view.id}, p0 cancel ${view.id})\n`);
    process.exit(EXIT_CODES.interrupted);
  };
  process.once('SIGINT', onInterrupt);
  try {
    for (;;) {
      display.update(view);
      const outcome = WAIT_OUTCOME[view.status] ?? { done: false };
      if (outcome.done) {
        display.finish(view, outcome.exitCode === EXIT_CODES.ok);
        return outcome.exitCode === EXIT_CODES.ok
          ? { view, exitCode: outcome.exitCode }
          : { view, exitCode: outcome.exitCode, problem: `${view.id} ${describeStatus(view)}` };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        display.stop();
        return {
          view,
          exitCode: EXIT_CODES.waitTimedOut,
          problem: `stopped waiting after ${formatElapsed(Date.now() - startedAt)}: ${view.id} is still ${view.status} and goes on (p0 status ${view.id} --wait to follow it, p0 cancel ${view.id} to withdraw it)`,
        };
      }
      // After a failed poll, back off a little more each time: 1 s, 2 s, 3 s, ...
      await sleep(Math.min(pollIntervalMs * Math.max(1, failures), remaining));
      try {
        view = await api.getRequest(view.id);
        failures = 0;
        display.setTrouble(undefined);
      } catch (error) {
        const transient = error instanceof UnreachableError || (error instanceof ApiError && error.transient);
        if (!transient) throw error;
        failures += 1;
        if (failures > maxRetries) {
          display.stop();
          throw new CliError(`lost contact with the p0 API while waiting for ${view.id}: ${error.message}\nThe request goes on: see it with p0 status ${view.id}`);
        }
        display.setTrouble(`${error.message}; retrying (${failures}/${maxRetries})`);
      }
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    display.stop();
  }
}

/** Renders progress: an updating line on a terminal, plain lines elsewhere. */
class ProgressDisplay {
  private readonly tty: boolean;
  private readonly startedAt = Date.now();
  private lastLine: string | undefined;
  private current: RequestView;
  private approvalShown = false;
  private trouble: string | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private frame = 0;

  constructor(
    private readonly stream: OutputStream,
    initial: RequestView,
    intro: 'requested' | 'following',
  ) {
    this.tty = Boolean(stream.isTTY) && process.env.TERM !== 'dumb';
    this.current = initial;
    // The id comes first, on a line of its own, so a script or a person can act on it at once.
    this.stream.write(`${initial.id} ${intro}: ${describeTarget(initial)} for ${initial.duration}\n`);
    if (this.tty) {
      this.ticker = setInterval(() => this.render(), 120);
      this.ticker.unref();
    }
  }

  update(view: RequestView): void {
    this.current = view;
    // Who approved is worth a line of its own, even when the approval happened between two polls.
    if (!this.approvalShown && view.approvals.length > 0 && view.status !== 'pending') {
      this.approvalShown = true;
      const line = approvalLine(view);
      if (this.tty) this.stream.write(`${CLEAR_LINE}✓ ${line}\n`);
      else this.plain(line);
    }
    if (this.tty) {
      this.render();
      return;
    }
    // Plain: a line per change; the last word (active, or why not) is the caller's.
    if (view.status === 'active' || isFinal(view.status)) return;
    const line = progressText(view);
    if (line !== approvalLine(view)) this.plain(line);
  }

  setTrouble(trouble: string | undefined): void {
    if (trouble !== undefined && !this.tty && trouble !== this.trouble) this.plain(trouble);
    this.trouble = trouble;
    if (this.tty) this.render();
  }

  /** The last word: the active line on success (failures go to stderr from the caller). */
  finish(view: RequestView, success: boolean): void {
    this.stop();
    if (success) this.stream.write(`${this.tty ? '✓ ' : `${view.id} `}${describeTarget(view)} is ${describeStatus(view)}\n`);
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.tty && this.lastLine !== undefined) this.stream.write(CLEAR_LINE);
    this.lastLine = undefined;
  }

  private plain(line: string): void {
    if (line === this.lastLine) return;
    this.lastLine = line;
    this.stream.write(`${this.current.id} ${line}\n`);
  }

  private render(): void {
    if (!this.tty) return;
    this.frame = (this.frame + 1) % SPINNER.length;
    const state = this.trouble ?? progressText(this.current);
    const line = `${SPINNER[this.frame]} ${state} · ${formatElapsed(Date.now() - this.startedAt)}`;
    this.lastLine = line;
    this.stream.write(`${CLEAR_LINE}${line}`);
  }
}

/** Where the request stands, said for someone watching it move. */
function progressText(view: RequestView): string {
  // The view has no sub-steps of provisioning: granting and the propagation checks are one state.
  return view.status === 'provisioning' ? 'provisioning and verifying propagation' : describeStatus(view);
}

function approvalLine(view: RequestView): string {
  return `approved by ${view.approvals.map((approval) => approval.by).join(', ')}`;
}

function isFinal(status: RequestStatus): boolean {
  return WAIT_OUTCOME[status]?.done === true && status !== 'active';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
