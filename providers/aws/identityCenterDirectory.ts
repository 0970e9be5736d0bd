/**
 * The look-ups behind an IAM Identity Center grant: which instance (and identity store) to use, the
 * requester's Identity Store user, and a permission set by name. Hits are cached; misses are not, so
 * a user or permission set created a moment ago is found on the next request.
 */
import { GetUserIdCommand, type IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { DescribePermissionSetCommand, paginateListInstances, paginateListPermissionSets, type SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { ProviderInputError } from '../provider';
import type { IdentityStoreUserAttribute } from './catalog';
import { classifyIdentityCenterError, isResourceNotFound } from './identityCenterErrors';
import { TtlCache } from './ttlCache';

export interface IdentityCenterInstance {
  instanceArn: string;
  identityStoreId: string;
}

/** DescribePermissionSet calls in flight at once while scanning: fast on big instances, gentle on the rate limit. */
const DESCRIBE_CONCURRENCY = 10;

export class IdentityCenterDirectory {
  /** The instance never changes under a running provider (a config reload builds a new one). */
  private instance: Promise<IdentityCenterInstance> | undefined;
  /** Identity Store user ids, keyed by the attribute value. */
  private readonly users: TtlCache<string, string>;
  /** Permission set ARNs, keyed by name. */
  private readonly permissionSets: TtlCache<string, string>;

  constructor(
    private readonly ssoAdmin: SSOAdminClient,
    private readonly identityStore: IdentitystoreClient,
    private readonly options: {
      instanceArn?: string | undefined;
      identityStoreId?: string | undefined;
      userAttribute: IdentityStoreUserAttribute;
      cacheTtlMs: number;
    },
  ) {
    this.users = new TtlCache(options.cacheTtlMs);
    this.permissionSets = new TtlCache(options.cacheTtlMs);
  }

  /**
   * The configured instance and identity store; what is not configured comes from ListInstances,
   * which must then show exactly one instance matching what is.
   */
  resolveInstance(): Promise<IdentityCenterInstance> {
    const { instanceArn, identityStoreId } = this.options;
    if (instanceArn && identityStoreId) return Promise.resolve({ instanceArn, identityStoreId });
    // A failed look-up (throttled, say) is not remembered: the next call asks again.
    this.instance ??= this.listInstance().catch((error: unknown) => {
      this.instance = undefined;
      throw error;
    });
    return this.instance;
  }

  /** The Identity Store user id for `email`, or undefined when no user has it. */
  async findUser(instance: IdentityCenterInstance, email: string): Promise<string | undefined> {
    return this.users.getOrLoad(`${instance.identityStoreId}:${email}`, async () => {
      try {
        const { UserId } = await this.identityStore.send(
          new GetUserIdCommand({
            IdentityStoreId: instance.identityStoreId,
            AlternateIdentifier: { UniqueAttribute: { AttributePath: this.options.userAttribute, AttributeValue: email } },
          }),
        );
        return UserId;
      } catch (error) {
        if (isResourceNotFound(error)) return undefined;
        throw classifyIdentityCenterError(error, `looking up the Identity Store user whose ${this.options.userAttribute} is ${email}`);
      }
    });
  }

  /** Like findUser, but throws ProviderInputError naming the email and the fix. */
  async resolveUser(instance: IdentityCenterInstance, email: string): Promise<string> {
    const userId = await this.findUser(instance, email);
    if (userId) return userId;
    const attribute = this.options.userAttribute === 'emails.value' ? 'email address' : 'user name';
    throw new ProviderInputError(
      `No IAM Identity Center user has the ${attribute} ${email} in identity store ${instance.identityStoreId}: ` +
        `create or sync the user with that ${attribute}`,
    );
  }

  /**
   * The ARN of the permission set called `name`, or undefined. ListPermissionSets gives ARNs only, so
   * every set is described once per scan; every name seen is cached, so one scan serves them all.
   */
  async findPermissionSet(instance: IdentityCenterInstance, name: string): Promise<string | undefined> {
    const cacheKey = (setName: string) => `${instance.instanceArn}:${setName}`;
    return this.permissionSets.getOrLoad(cacheKey(name), async () => {
      let found: string | undefined;
      try {
        for await (const page of paginateListPermissionSets({ client: this.ssoAdmin, pageSize: 100 }, { InstanceArn: instance.instanceArn })) {
          const arns = page.PermissionSets ?? [];
          for (let start = 0; start < arns.length; start += DESCRIBE_CONCURRENCY) {
            const batch = arns.slice(start, start + DESCRIBE_CONCURRENCY);
            const names = await Promise.all(batch.map((arn) => this.permissionSetName(instance, arn)));
            batch.forEach((arn, index) => {
              const setName = names[index];
              if (setName === undefined) return;
              this.permissionSets.set(cacheKey(setName), arn);
              if (setName === name) found = arn;
            });
          }
        }
      } catch (error) {
        throw classifyIdentityCenterError(error, `looking up the permission set ${name} in ${instance.instanceArn}`);
      }
      return found;
    });
  }

  /** Like findPermissionSet, but throws ProviderInputError naming the permission set. */
  async resolvePermissionSet(instance: IdentityCenterInstance, name: string): Promise<string> {
    const arn = await this.findPermissionSet(instance, name);
    if (arn) return arn;
    throw new ProviderInputError(`No IAM Identity Center permission set named ${name} in ${instance.instanceArn}`);
  }

  private async permissionSetName(instance: IdentityCenterInstance, arn: string): Promise<string | undefined> {
    try {
      const { PermissionSet } = await this.ssoAdmin.send(new DescribePermissionSetCommand({ InstanceArn: instance.instanceArn, PermissionSetArn: arn }));
      return PermissionSet?.Name;
    } catch (error) {
      // Deleted between ListPermissionSets and now: not the one we look for.
      if (isResourceNotFound(error)) return undefined;
      throw error;
    }
  }

  private async listInstance(): Promise<IdentityCenterInstance> {
    const { instanceArn, identityStoreId } = this.options;
    const matches: IdentityCenterInstance[] = [];
    try {
      for await (const page of paginateListInstances({ client: this.ssoAdmin }, {})) {
        for (const instance of page.Instances ?? []) {
          if (!instance.InstanceArn || !instance.IdentityStoreId) continue;
          if (instanceArn && instance.InstanceArn !== instanceArn) continue;
          if (identityStoreId && instance.IdentityStoreId !== identityStoreId) continue;
          matches.push({ instanceArn: instance.InstanceArn, identityStoreId: instance.IdentityStoreId });
        }
      }
    } catch (error) {
      throw classifyIdentityCenterError(error, 'listing the IAM Identity Center instances');
    }
    const wanted = instanceArn ?? (identityStoreId ? `an instance with identity store ${identityStoreId}` : undefined);
    if (matches.length === 0) {
      throw new ProviderInputError(
        `No IAM Identity Center instance${wanted ? ` matching ${wanted}` : ''} is visible to p0's AWS credentials in this region: ` +
          'set aws.identityCenter.region to the instance\'s home region, or check aws.identityCenter.instanceArn',
      );
    }
    if (matches.length > 1) {
      const arns = matches.map((match) => match.instanceArn).join(', ');
      throw new ProviderInputError(`Several IAM Identity Center instances are visible (${arns}): set aws.identityCenter.instanceArn`);
    }
    return matches[0]!;
  }
}
