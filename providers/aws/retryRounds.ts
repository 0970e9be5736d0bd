/**
 * Account-wide scans (every IAM user's tags, every user's inline policies) make one call per user.
 * The SDK retries each call a few times, but on a big account some call still fails, and a scan that
 * one failure sinks would rarely complete. These helpers retry a failed call on its own, in rounds
 * with growing pauses, while the rest of the scan goes on.
 */
import { ListUsersCommand, type IAMClient } from '@aws-sdk/client-iam';
import { ProviderInputError } from '../provider';
import { classifyAwsError } from './errors';

/** Seven rounds of retries after the first try, about 16 s of pauses in all at worst. */
export const SCAN_RETRY_DELAYS_MS: readonly number[] = [200, 400, 800, 1_600, 3_200, 5_000, 5_000];
/** Calls in flight at once while scanning: fast on big accounts, gentle on IAM's rate limit. */
export const SCAN_CONCURRENCY = 10;
/** ListUsers returns at most 1,000 users a page. */
const LIST_PAGE_SIZE = 1_000;

export interface IamUser {
  name: string;
  arn: string;
  /** IAM's unique id (AIDA...): a user deleted and created again under the same name gets a new one. */
  id: string;
}

/**
 * Calls `read` for every item, SCAN_CONCURRENCY at a time; the items whose read threw are read
 * again, on their own, after each pause of `delaysMs`. An error classifyAwsError calls bad input is
 * not retried. Returns the items still failing, with their last error.
 */
export async function readEachRetrying<T>(items: readonly T[], read: (item: T) => Promise<void>, delaysMs: readonly number[] = SCAN_RETRY_DELAYS_MS): Promise<Array<{ item: T; error: unknown }>> {
  /** Bad input: not retried, failed for good. */
  const givenUp: Array<{ item: T; error: unknown }> = [];
  let failing: Array<{ item: T; error: unknown }> = [];
  let pending = items;
  for (let round = 0; pending.length > 0; round++) {
    if (round > 0) {
      if (round > delaysMs.length) break;
      await pause(delaysMs[round - 1]!);
    }
    failing = [];
    let next = 0;
    const reader = async () => {
      while (next < pending.length) {
        const item = pending[next++]!;
        try {
          await read(item);
        } catch (error) {
          (classifyAwsError(error, 'scanning') instanceof ProviderInputError ? givenUp : failing).push({ item, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, pending.length) }, reader));
    pending = failing.map(({ item }) => item);
  }
  return [...givenUp, ...failing];
}

/** `call`, tried again after each pause of `delaysMs` while it fails with anything but bad input; throws the last error, classified. */
export async function retried<T>(call: () => Promise<T>, action: string, delaysMs: readonly number[] = SCAN_RETRY_DELAYS_MS): Promise<T> {
  for (let round = 0; ; round++) {
    try {
      return await call();
    } catch (error) {
      const classified = classifyAwsError(error, action);
      if (classified instanceof ProviderInputError || round >= delaysMs.length) throw classified;
      await pause(delaysMs[round]!);
    }
  }
}

/** Every IAM user of the account; a page that fails is asked for again, from the same marker. */
export async function listAllUsers(iam: IAMClient, action: string, delaysMs: readonly number[] = SCAN_RETRY_DELAYS_MS): Promise<IamUser[]> {
  const users: IamUser[] = [];
  let Marker: string | undefined;
  do {
    const page = await retried(() => iam.send(new ListUsersCommand({ Marker, MaxItems: LIST_PAGE_SIZE })), action, delaysMs);
    for (const user of page.Users ?? []) users.push({ name: user.UserName!, arn: user.Arn!, id: user.UserId! });
    Marker = page.IsTruncated ? page.Marker : undefined;
  } while (Marker);
  return users;
}

/** Waits `ms`, give or take a quarter, so the retries of many callers spread out. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms * (0.75 + Math.random() / 2)));
}
