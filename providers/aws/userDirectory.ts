/**
 * Finds the IAM user behind a requester's email: the user tagged `<emailTag>=<email>`, or a user named
 * exactly the email, as the configured lookup allows.
 */
import { GetUserCommand, ListUserTagsCommand, paginateListUsers, type IAMClient } from '@aws-sdk/client-iam';
import { PrincipalUnconfirmedError, ProviderInputError, type PrincipalRef } from '../provider';
import type { UserLookup } from './catalog';
import { awsErrorCode, classifyAwsError, isNoSuchEntity } from './errors';
import { TtlCache } from './ttlCache';

export interface IamUser {
  name: string;
  arn: string;
  /** IAM's unique id (AIDA...): a user deleted and created again under the same name gets a new one. */
  id: string;
}

/** The recorded form of an IAM user (GrantInspection.principal). */
export function iamUserRef(user: IamUser): PrincipalRef {
  return { userName: user.name, userArn: user.arn, userId: user.id };
}

/** ListUserTags calls in flight at once while scanning: fast on big accounts, gentle on IAM's rate limit. */
const TAG_READ_CONCURRENCY = 10;

export class IamUserDirectory {
  /** Only hits are cached, so a user created or tagged a moment ago is found on the next request. */
  private readonly cache: TtlCache<string, IamUser>;
  /**
   * Email -> users carrying that email tag, from one scan of the account. Lookups share it (and a
   * scan in flight), so N requests arriving together cost one scan, not N.
   */
  private tagIndex?: { startedAt: number; byEmail: Map<string, IamUser[]> };
  private scanInFlight?: { startedAt: number; done: Promise<Map<string, IamUser[]>> };
  /** The one scan queued behind the one in flight, shared by every caller that needs a newer one. */
  private nextScan?: Promise<Map<string, IamUser[]>>;

  constructor(
    private readonly iam: IAMClient,
    private readonly options: { lookup: UserLookup; emailTag: string; cacheTtlMs: number },
  ) {
    this.cache = new TtlCache(options.cacheTtlMs);
  }

  /** The IAM user for `email`, or undefined when none matches. */
  async find(email: string): Promise<IamUser | undefined> {
    return this.cache.getOrLoad(email.toLowerCase(), () => this.lookUp(email));
  }

  /** Like `find`, but throws ProviderInputError naming the email and the fix when no IAM user matches. */
  async resolve(email: string): Promise<IamUser> {
    const user = await this.find(email);
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
   * replaced by another user with the same name. Never cached: a revoke must see IAM as it is.
   */
  async recorded(ref: PrincipalRef): Promise<IamUser> {
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

  private async lookUp(email: string): Promise<IamUser | undefined> {
    const { lookup } = this.options;
    const tagged = lookup === 'name' ? undefined : await this.findByTag(email);
    if (tagged || lookup === 'tag') return tagged;
    return this.findByName(email);
  }

  /**
   * Finds the users tagged with the email in the account-wide tag index. The whole account is
   * indexed rather than stopping at the first match: two users carrying the same email would make
   * the grant land on an arbitrary one, so that is refused instead.
   */
  private async findByTag(email: string): Promise<IamUser | undefined> {
    const wanted = email.toLowerCase();
    const calledAt = Date.now();
    let byEmail = await this.indexSince(calledAt - this.options.cacheTtlMs);
    // A miss looks again in a scan that started after this lookup did: a just-tagged user is found.
    if (!byEmail.has(wanted)) byEmail = await this.indexSince(calledAt);
    const matches = byEmail.get(wanted) ?? [];
    if (matches.length > 1) {
      const names = matches.map((user) => user.name).join(', ');
      // Unconfirmed (a ProviderInputError): refused at grant, an alert rather than a guess at revoke.
      throw new PrincipalUnconfirmedError(`Several IAM users are tagged ${this.options.emailTag}=${email} (${names}): keep the tag on one of them`);
    }
    return matches[0];
  }

  /** An index from a scan that started at `time` or later: the last one, the one in flight, or the next. */
  private indexSince(time: number): Promise<Map<string, IamUser[]>> {
    if (this.tagIndex && this.tagIndex.startedAt >= time) return Promise.resolve(this.tagIndex.byEmail);
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

  private startScan(): Promise<Map<string, IamUser[]>> {
    const startedAt = Date.now();
    const done = this.scanTags().then((byEmail) => {
      if (!this.tagIndex || this.tagIndex.startedAt < startedAt) this.tagIndex = { startedAt, byEmail };
      return byEmail;
    });
    this.scanInFlight = { startedAt, done };
    void done.finally(() => {
      if (this.scanInFlight?.done === done) this.scanInFlight = undefined;
    }).catch(() => undefined);
    return done;
  }

  /** Reads every user's email tag (ListUsers does not return tags, so one ListUserTags each). */
  private async scanTags(): Promise<Map<string, IamUser[]>> {
    const byEmail = new Map<string, IamUser[]>();
    try {
      for await (const page of paginateListUsers({ client: this.iam }, {})) {
        const users = page.Users ?? [];
        for (let start = 0; start < users.length; start += TAG_READ_CONCURRENCY) {
          const batch = users.slice(start, start + TAG_READ_CONCURRENCY);
          const emails = await Promise.all(batch.map((user) => this.emailTagOf(user.UserName!)));
          batch.forEach((user, index) => {
            // Tag values are case-sensitive in IAM; email addresses are not, in practice.
            const tagged = emails[index]?.toLowerCase();
            if (tagged) byEmail.set(tagged, [...(byEmail.get(tagged) ?? []), { name: user.UserName!, arn: user.Arn!, id: user.UserId! }]);
          });
        }
      }
    } catch (error) {
      throw classifyAwsError(error, `looking up IAM users by their ${this.options.emailTag} tag`);
    }
    return byEmail;
  }

  private async emailTagOf(userName: string): Promise<string | undefined> {
    try {
      // A user has at most 50 tags and one page holds 100, so no pagination is needed.
      const { Tags } = await this.iam.send(new ListUserTagsCommand({ UserName: userName, MaxItems: 100 }));
      return Tags?.find((tag) => tag.Key === this.options.emailTag)?.Value;
    } catch (error) {
      // Deleted between ListUsers and now: not our user.
      if (isNoSuchEntity(error)) return undefined;
      throw error;
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
