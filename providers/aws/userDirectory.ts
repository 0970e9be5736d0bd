/**
 * Finds the IAM user behind a requester's email: the user tagged `<emailTag>=<email>`, or a user named
 * exactly the email, as the configured lookup allows.
 */
import { GetUserCommand, type IAMClient } from '@aws-sdk/client-iam';
import { PrincipalUnconfirmedError, ProviderInputError, type PrincipalRef, type StepMemo } from '../provider';
import type { UserLookup } from './catalog';
import { awsErrorCode, classifyAwsError, isNoSuchEntity } from './errors';
import { TtlCache } from './ttlCache';
import { UserTagIndex, type IamUser, type UserTagIndexOptions } from './userTagIndex';

export type { IamUser } from './userTagIndex';

/** The recorded form of an IAM user (GrantInspection.principal). */
export function iamUserRef(user: IamUser): PrincipalRef {
  return { userName: user.name, userArn: user.arn, userId: user.id };
}

/** A StepMemo's key for "this user (name and unique id) was confirmed in IAM during the step". */
function confirmedUserKey(ref: PrincipalRef): string {
  return `aws-iam-user:${ref.userName}:${ref.userId}`;
}

/**
 * Some users' email tags could not be read, so whether the email is theirs is unknown: the look-up
 * neither says "no such user" nor picks a user. Not a ProviderInputError: the activity retries it,
 * and the retry's look-up scans again.
 */
export class TagIndexIncompleteError extends Error {
  override readonly name = 'TagIndexIncompleteError';
  /** Stable, for logs and metrics. */
  readonly code = 'iam_tag_index_incomplete';
  constructor(email: string, emailTag: string, unread: readonly string[], cause: string) {
    const shown = unread.slice(0, 5).join(', ') + (unread.length > 5 ? `, and ${unread.length - 5} more` : '');
    super(`Cannot confirm the IAM user tagged ${emailTag}=${email}: the tags of ${unread.length} IAM user(s) could not be read (${shown})${cause ? `; last error: ${cause}` : ''}`);
  }
}

/** The look-up waited as long as it may for a scan of the account (see userTagIndex.ts); retried. */
export class TagIndexPendingError extends Error {
  override readonly name = 'TagIndexPendingError';
  /** Stable, for logs and metrics. */
  readonly code = 'iam_tag_index_pending';
}

export class IamUserDirectory {
  /** Only hits are cached, so a user created or tagged a moment ago is found on the next request. */
  private readonly cache: TtlCache<string, IamUser>;
  /** Email tag -> users, from scans of the account, shared by every look-up (see userTagIndex.ts). */
  private readonly tagIndex: UserTagIndex;

  constructor(
    private readonly iam: IAMClient,
    private readonly options: { lookup: UserLookup; emailTag: string; cacheTtlMs: number; tagIndex: Omit<UserTagIndexOptions, 'emailTag'> },
  ) {
    this.cache = new TtlCache(options.cacheTtlMs);
    this.tagIndex = new UserTagIndex(iam, { ...options.tagIndex, emailTag: options.emailTag });
  }

  /**
   * The IAM user for `email`, or undefined when none matches. A user the tag index confirmed with
   * GetUser for this look-up is remembered in `memo` as confirmed, so the same step's calls with it
   * as the recorded principal do not read it again (see `recorded`).
   */
  async find(email: string, memo?: StepMemo): Promise<IamUser | undefined> {
    return this.cache.getOrLoad(email.toLowerCase(), () => this.lookUp(email, memo));
  }

  /** Like `find`, but throws ProviderInputError naming the email and the fix when no IAM user matches. */
  async resolve(email: string, memo?: StepMemo): Promise<IamUser> {
    const user = await this.find(email, memo);
    if (user) return user;
    const { lookup, emailTag } = this.options;
    const fixes = {
      'tag-then-name': `tag an IAM user with ${emailTag}=${email} or name one after the address`,
      tag: `tag an IAM user with ${emailTag}=${email}`,
      name: `name an IAM user after the address`,
    };
    throw new ProviderInputError(`No IAM user for ${email}: ${fixes[lookup]}`);
  }

  /**
   * The user a grant was made to, as recorded then, confirmed to be that same user now (by its
   * unique id, never by the email tag). Throws PrincipalUnconfirmedError when it was deleted or
   * replaced by another user with the same name. Never cached between steps: a revoke must see IAM
   * as it is; the calls of one step share one confirmation through its `memo`.
   */
  async recorded(ref: PrincipalRef, memo?: StepMemo): Promise<IamUser> {
    return memo ? memo.remember(confirmedUserKey(ref), () => this.confirm(ref)) : this.confirm(ref);
  }

  private async confirm(ref: PrincipalRef): Promise<IamUser> {
    const { userName, userId } = ref;
    if (!userName || !userId) throw new ProviderInputError(`Not a recorded IAM user: ${JSON.stringify(ref)}`);
    let user: IamUser | undefined;
    try {
      user = await this.getUser(userName);
    } catch (error) {
      if (!isNoSuchEntity(error)) throw classifyAwsError(error, `reading the IAM user ${userName}`);
    }
    if (!user) throw new PrincipalUnconfirmedError(`The IAM user ${userName} (${userId}) the grant was made to no longer exists`);
    if (user.id !== userId) {
      throw new PrincipalUnconfirmedError(`The IAM user ${userName} (${userId}) the grant was made to was deleted: a different user now has the name (${user.id})`);
    }
    return user;
  }

  private async getUser(userName: string): Promise<IamUser> {
    const { User } = await this.iam.send(new GetUserCommand({ UserName: userName }));
    return { name: User!.UserName!, arn: User!.Arn!, id: User!.UserId! };
  }

  private async lookUp(email: string, memo?: StepMemo): Promise<IamUser | undefined> {
    const { lookup } = this.options;
    const tagged = lookup === 'name' ? undefined : await this.findByTag(email, memo);
    if (tagged || lookup === 'tag') return tagged;
    return this.findByName(email);
  }

  /**
   * The user tagged with the email, from the account-wide tag index (see userTagIndex.ts). The whole
   * account is indexed rather than stopping at the first match: two users carrying the same email
   * would make the grant land on an arbitrary one, so that is refused instead. So is an answer the
   * index cannot give for sure (some users' tags could not be read): never "no such user", never a
   * user picked while another might carry the email too, and never the name look-up instead.
   */
  private async findByTag(email: string, memo?: StepMemo): Promise<IamUser | undefined> {
    const answer = await this.tagIndex.lookUp(email.toLowerCase());
    switch (answer.kind) {
      case 'one':
        if (answer.confirmedAt !== undefined) memo?.seed(confirmedUserKey(iamUserRef(answer.user)), answer.user);
        return answer.user;
      case 'none':
        return undefined;
      case 'several': {
        const names = answer.users.map((user) => user.name).join(', ');
        // Unconfirmed (a ProviderInputError): refused at grant, an alert rather than a guess at revoke.
        throw new PrincipalUnconfirmedError(`Several IAM users are tagged ${this.options.emailTag}=${email} (${names}): keep the tag on one of them`);
      }
      case 'unknown':
        throw new TagIndexIncompleteError(email, this.options.emailTag, answer.unread, answer.cause);
      case 'scanning':
        throw new TagIndexPendingError(`Still reading the IAM users' ${this.options.emailTag} tags to find ${email} after ${answer.waitedMs / 1000} s; the scan goes on and the retry uses it`);
    }
  }

  private async findByName(email: string): Promise<IamUser | undefined> {
    try {
      return await this.getUser(email);
    } catch (error) {
      // ValidationError: the address has characters a user name cannot have, so no user has it.
      if (isNoSuchEntity(error) || awsErrorCode(error) === 'ValidationError') return undefined;
      throw classifyAwsError(error, `looking up the IAM user named ${email}`);
    }
  }
}
