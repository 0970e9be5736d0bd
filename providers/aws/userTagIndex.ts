/**
 * Which IAM users carry `<emailTag>=<email>`. IAM cannot search users by tag and ListUsers does not
 * return tags, so this is an index built by scanning the account: ListUsers, then one ListUserTags
 * per user. On a large account that is the costliest thing the provider does, so:
 *
 * - the index is served stale and refreshed in the background once older than `refreshAfterMs`;
 *   only an email it cannot answer (a miss, two users, an unread user) waits for a new scan;
 * - but a user it finds is never taken on an old read: one whose tags were read longer ago than
 *   `confirmAfterMs` is read again on its own (one GetUser: its unique id and its tags) before it
 *   is served, and a tag that moved away from it, or a new user under its name, makes the look-up
 *   wait for a new scan, as a miss does. So a tag moved to another person is seen within
 *   `confirmAfterMs`, while the whole account is read only every `refreshAfterMs` (a full scan is
 *   one call per user: on a large account, what IAM throttles);
 * - a scan survives the failures of single calls: each ListUsers page and each user's ListUserTags
 *   that still fails after the SDK's own retries is retried on its own, in rounds with growing
 *   pauses, and a user whose tags still cannot be read keeps what an earlier scan read of it;
 * - it never guesses: a user whose tags nobody could read (within `maxStaleMs`) might carry any
 *   email, so an email is then neither "no such user" nor a single user: the answer is `unknown`.
 */
import { GetUserCommand, ListUserTagsCommand, type IAMClient } from '@aws-sdk/client-iam';
import { awsErrorCode, isNoSuchEntity } from './errors';
import { listAllUsers, readEachRetrying, SCAN_RETRY_DELAYS_MS, type IamUser } from './retryRounds';

export type { IamUser } from './retryRounds';

export interface UserTagIndexOptions {
  /** The user tag that holds the email. */
  emailTag: string;
  /** A user found whose tags were read longer ago than this is read again before it is served. */
  confirmAfterMs: number;
  /** An index older than this is still served, and a scan to replace it starts in the background. */
  refreshAfterMs: number;
  /** No answer rests on a tag read longer ago than this: the look-up waits for a new scan instead. */
  maxStaleMs: number;
  /** Pauses before each round of retries of the calls that failed; as many rounds as pauses. */
  retryDelaysMs?: readonly number[];
  /** How long a look-up waits for scans before answering `scanning` (default LOOKUP_WAIT_LIMIT_MS). */
  waitLimitMs?: number;
  now?: () => number;
}

/** What the index says about one email. Emails are compared lower-cased. */
export type TagAnswer =
  /** `confirmedAt`: this look-up read the user again (GetUser) at that time, and it is that user. */
  | { kind: 'one'; user: IamUser; confirmedAt?: number }
  | { kind: 'several'; users: IamUser[] }
  | { kind: 'none' }
  /** Some users' tags could not be read: they might carry the email too. `cause` is the last failure. */
  | { kind: 'unknown'; unread: string[]; cause: string }
  /** The scans it needs took longer than the wait limit; they go on, and a later look-up uses them. */
  | { kind: 'scanning'; waitedMs: number };

/**
 * A look-up runs inside a provisioning attempt, which does not heartbeat meanwhile (30-s heartbeat
 * timeout): an attempt that outlives it is retried while it still runs, and could grant after the
 * retry's grant was revoked. So a look-up never waits much longer than one scan of a large account.
 */
const LOOKUP_WAIT_LIMIT_MS = 20_000;

/** One user's email tag as read at `readAt` (undefined: the user carries no such tag). */
interface TagRead {
  user: IamUser;
  email: string | undefined;
  /** Moved forward when a look-up reads the user again and finds the same email (Snapshot.confirmed). */
  readAt: number;
}

/** What one scan knew: every user it listed, read by it or, failing that, by an earlier scan. */
class Snapshot {
  private readonly byEmail = new Map<string, TagRead[]>();
  private readonly oldestReadAt: number;

  constructor(
    /** When the scan started listing: a user created or tagged later may be missing. */
    readonly startedAt: number,
    readonly reads: ReadonlyMap<string, TagRead>,
    /** Listed users whose tags no scan could read. */
    private readonly unread: readonly string[],
    private readonly lastFailure: string,
  ) {
    let oldest = Infinity;
    for (const read of reads.values()) {
      oldest = Math.min(oldest, read.readAt);
      if (read.email) this.byEmail.set(read.email, [...(this.byEmail.get(read.email) ?? []), read]);
    }
    this.oldestReadAt = oldest;
  }

  /** The answer for `email` counting only reads made at `freshSince` or later. */
  /** `user`'s tags were read again at `readAt` and still carry the email it is indexed under. */
  confirmed(user: IamUser, readAt: number): void {
    const read = this.reads.get(user.name);
    if (read && read.user.id === user.id && read.readAt < readAt) read.readAt = readAt;
  }

  answer(email: string, freshSince: number): TagAnswer {
    const unread = [...this.unread];
    if (this.oldestReadAt < freshSince) {
      for (const [name, read] of this.reads) if (read.readAt < freshSince) unread.push(name);
    }
    const matches = (this.byEmail.get(email) ?? []).filter((read) => read.readAt >= freshSince).map((read) => read.user);
    // Two users carrying the email is certain whatever else is unknown.
    if (matches.length > 1) return { kind: 'several', users: matches };
    if (unread.length > 0) return { kind: 'unknown', unread: unread.sort(), cause: this.lastFailure };
    return matches.length === 1 ? { kind: 'one', user: matches[0]! } : { kind: 'none' };
  }
}

export class UserTagIndex {
  private current?: Snapshot;
  private scanInFlight?: { startedAt: number; done: Promise<Snapshot> };
  /** The one scan queued behind the one in flight, shared by every caller that needs a newer one. */
  private nextScan?: Promise<Snapshot>;
  private readonly now: () => number;
  private readonly retryDelaysMs: readonly number[];

  constructor(
    private readonly iam: IAMClient,
    private readonly options: UserTagIndexOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.retryDelaysMs = options.retryDelaysMs ?? SCAN_RETRY_DELAYS_MS;
  }

  /**
   * The users tagged with `email` (lower-cased). A definite answer from the index as it stands is
   * served at once, however old (up to `maxStaleMs`); anything else looks again in a scan that
   * started after this call, so a user tagged a moment ago is found and an ambiguity fixed a moment
   * ago is not reported. Throws when that scan cannot list the account's users.
   */
  async lookUp(email: string): Promise<TagAnswer> {
    const calledAt = this.now();
    const freshSince = () => this.now() - this.options.maxStaleMs;
    const index = this.current;
    if (index && calledAt - index.startedAt >= this.options.refreshAfterMs) this.refreshInBackground(calledAt);
    if (index) {
      const answer = index.answer(email, freshSince());
      if (answer.kind === 'one') {
        const confirmed = await this.stillCarries(index, answer.user, email, calledAt);
        if (confirmed) return confirmed;
      }
    }
    return this.withinWaitLimit(async () => {
      // A scan already under way may know the user: one user found there is as good as the index above.
      const inFlight = this.scanInFlight;
      if (inFlight && inFlight.startedAt < calledAt) {
        const answer = (await inFlight.done.catch(() => undefined))?.answer(email, freshSince());
        if (answer?.kind === 'one') return answer;
      }
      return (await this.indexSince(calledAt)).answer(email, freshSince());
    });
  }

  /**
   * `user`, found for `email` in `index`, as the answer if it carries the email now: its read is
   * younger than `confirmAfterMs`, or a new read of it (GetUser: the same unique id, the tag still
   * there) says so, and then counts as that user's read. Undefined when it does not, or the read
   * fails: the look-up then waits for a scan, which retries it.
   */
  private async stillCarries(index: Snapshot, user: IamUser, email: string, calledAt: number): Promise<TagAnswer | undefined> {
    const read = index.reads.get(user.name);
    if (read && calledAt - read.readAt < this.options.confirmAfterMs) return { kind: 'one', user };
    const readAt = this.now();
    const now = await this.iam.send(new GetUserCommand({ UserName: user.name })).catch(() => undefined);
    const carried = now?.User?.Tags?.find((tag) => tag.Key === this.options.emailTag)?.Value?.toLowerCase();
    if (now?.User?.UserId !== user.id || carried !== email) return undefined;
    index.confirmed(user, readAt);
    return { kind: 'one', user, confirmedAt: readAt };
  }

  /** `wait()`, or `scanning` once it took longer than the wait limit (the scans go on). */
  private async withinWaitLimit(wait: () => Promise<TagAnswer>): Promise<TagAnswer> {
    const waitedMs = this.options.waitLimitMs ?? LOOKUP_WAIT_LIMIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<TagAnswer>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'scanning', waitedMs }), waitedMs);
    });
    try {
      return await Promise.race([wait(), limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  private refreshInBackground(time: number): void {
    // A failed refresh leaves the index as it was; the next look-up tries again.
    if (!this.scanInFlight) this.indexSince(time).catch(() => undefined);
  }

  /** An index from a scan that started at `time` or later: the last one, the one in flight, or the next. */
  private indexSince(time: number): Promise<Snapshot> {
    if (this.current && this.current.startedAt >= time) return Promise.resolve(this.current);
    if (!this.scanInFlight) return this.startScan();
    if (this.scanInFlight.startedAt >= time) return this.scanInFlight.done;
    this.nextScan ??= this.scanInFlight.done
      .catch(() => undefined)
      .then(() => {
        this.nextScan = undefined;
        return this.startScan();
      });
    return this.nextScan;
  }

  private startScan(): Promise<Snapshot> {
    const startedAt = this.now();
    const done = this.scan(startedAt).then((snapshot) => {
      if (!this.current || this.current.startedAt < startedAt) this.current = snapshot;
      return snapshot;
    });
    this.scanInFlight = { startedAt, done };
    void done
      .finally(() => {
        if (this.scanInFlight?.done === done) this.scanInFlight = undefined;
      })
      .catch(() => undefined);
    return done;
  }

  /**
   * Lists every user, then reads each one's tags, retrying the reads that failed in rounds. A user
   * still unread keeps its read from the index this scan replaces, if that was of the same user
   * (same unique id); how old it may be is checked when it is used.
   */
  private async scan(startedAt: number): Promise<Snapshot> {
    const users = await listAllUsers(this.iam, `listing IAM users to find their ${this.options.emailTag} tag`, this.retryDelaysMs);
    const reads = new Map<string, TagRead>();
    const failed = await readEachRetrying(
      users,
      async (user) => {
        const readAt = this.now();
        reads.set(user.name, { user, email: await this.emailTagOf(user.name), readAt });
      },
      this.retryDelaysMs,
    );
    const unread: string[] = [];
    // Every user not read now, whatever the reason: none may pass for a user without the tag.
    for (const user of users.filter((listed) => !reads.has(listed.name))) {
      const earlier = this.current?.reads.get(user.name);
      if (earlier && earlier.user.id === user.id) reads.set(user.name, earlier);
      else unread.push(user.name);
    }
    return new Snapshot(startedAt, reads, unread, failed.length > 0 ? describeFailure(failed[failed.length - 1]!.error) : '');
  }

  /** The user's email tag, lower-cased (tag values are case-sensitive in IAM; addresses are not, in practice). */
  private async emailTagOf(userName: string): Promise<string | undefined> {
    try {
      // A user has at most 50 tags and one page holds 100, so no pagination is needed.
      const { Tags } = await this.iam.send(new ListUserTagsCommand({ UserName: userName, MaxItems: 100 }));
      return Tags?.find((tag) => tag.Key === this.options.emailTag)?.Value?.toLowerCase();
    } catch (error) {
      // Deleted between ListUsers and now: not our user.
      if (isNoSuchEntity(error)) return undefined;
      throw error;
    }
  }
}

function describeFailure(error: unknown): string {
  const code = awsErrorCode(error);
  const message = (error as { message?: unknown } | null)?.message;
  return [code, typeof message === 'string' ? message : undefined].filter(Boolean).join(': ') || String(error);
}
