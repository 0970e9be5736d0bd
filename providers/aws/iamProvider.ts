/**
 * AWS access through IAM users: a role grant is an inline user policy allowing sts:AssumeRole on the
 * role until `notAfter`, a policy grant attaches a managed policy, a group grant adds the user to a
 * group. The requester's email finds their IAM user (see userDirectory.ts) once, when the grant is
 * first made; from then on the activities hand back the user recorded with the lease
 * (`spec.recordedPrincipal`), and every call acts on exactly that user. A role grant's end also
 * denies the sessions the requester obtained before it (see roleGrantPolicy.ts). A `permission-set`
 * grant is an IAM Identity Center account assignment instead, handed to identityCenter.ts.
 */
import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  GetGroupCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  paginateListAttachedUserPolicies,
  paginateListGroupsForUser,
  paginateListPolicies,
  paginateListRolePolicies,
  paginateListUserPolicies,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { PrincipalUnconfirmedError, ProviderInputError, type GrantInspection, type GrantSpec, type MarkedGrant, type PropagationSettings, type Provider, type StepMemo } from '../provider';
import { AWS_REQUEST_HANDLER, awsErrorCode, classifyAwsError, isNoSuchEntity } from './errors';
import { AWS_GRANT_KINDS, IAM_USER_GRANT_KINDS, IDENTITY_CENTER_GRANT_KIND, type IamUserGrantKind, type UserLookup } from './catalog';
import { createIdentityCenterAssignments, type IdentityCenterAssignments, type IdentityCenterSettings } from './identityCenter';
import {
  allowsAssumingRole,
  requestIdOfRoleGrantPolicy,
  REVOKED_ALL_SESSIONS_POLICY_NAME,
  REVOKED_SESSIONS_POLICY_PREFIX,
  revokedSessionsDocument,
  revokedSessionsEntry,
  revokedSessionsPolicyName,
  roleGrantPolicyDocument,
  roleGrantPolicyName,
  STS_MIN_SESSION_SECONDS,
} from './roleGrantPolicy';
import { listAllUsers, readEachRetrying } from './retryRounds';
import { TtlCache } from './ttlCache';
import { iamUserRef, IamUserDirectory, type IamUser } from './userDirectory';

export interface AwsSettings {
  region: string;
  /** How a requester's email finds their IAM user. */
  userLookup: UserLookup;
  /** The user tag that holds the email (the config's default is `email`). */
  emailTag: string;
  propagation: PropagationSettings;
  /** Also ask IAM's policy simulator whether a role grant is effective (real AWS only; moto lacks it). */
  simulatePrincipalPolicy: boolean;
  /** The IAM Identity Center mode (kind `permission-set`, see identityCenter.ts); without it that kind is refused. */
  identityCenter?: IdentityCenterSettings;
  /** How the email tag index is kept (see userTagIndex.ts); default USER_INDEX_DEFAULTS. */
  userIndex?: UserIndexSettings;
}

export interface UserIndexSettings {
  /** A user found whose tags were read longer ago than this is read again (one call) before it is used. */
  confirmAfterMs: number;
  /** An index older than this is still served, and rebuilt in the background. */
  refreshAfterMs: number;
  /** No look-up rests on a tag read longer ago than this: it waits for a new scan instead. */
  maxStaleMs: number;
}

/** The config's defaults (aws.userIndex). */
export const USER_INDEX_DEFAULTS: UserIndexSettings = { confirmAfterMs: 60_000, refreshAfterMs: 10 * 60_000, maxStaleMs: 15 * 60_000 };

/** Users, roles, groups and policies rarely change; a minute spares IAM a scan per activity attempt. */
const LOOKUP_CACHE_TTL_MS = 60_000;

/** A role, group or managed policy as IAM names it (canonical case) and its ARN. */
interface IamEntity {
  name: string;
  arn: string;
}

/**
 * A spec with its principal and target looked up: everything a call to IAM needs. `role` is only
 * missing for a lenient look-up of a role that no longer exists (see `resolve`).
 */
type ResolvedGrant =
  | { kind: 'role'; user: IamUser; roleName: string; role: IamEntity | undefined; policyName: string }
  | { kind: 'policy'; user: IamUser; policy: IamEntity }
  | { kind: 'group'; user: IamUser; group: IamEntity };

export class AwsIamProvider implements Provider {
  readonly name = 'aws';
  readonly propagation: PropagationSettings;
  private readonly iam: IAMClient;
  private readonly simulatePrincipalPolicy: boolean;
  private readonly users: IamUserDirectory;
  /** Targets that exist, keyed `<kind>:<target>`. Misses are not cached. */
  private readonly targets = new TtlCache<string, IamEntity>(LOOKUP_CACHE_TTL_MS);
  private readonly identityCenter: IdentityCenterAssignments | undefined;

  constructor({ iam, settings, identityCenter }: { iam: IAMClient; settings: AwsSettings; identityCenter?: IdentityCenterAssignments }) {
    this.iam = iam;
    this.identityCenter = identityCenter;
    this.propagation = settings.propagation;
    this.simulatePrincipalPolicy = settings.simulatePrincipalPolicy;
    this.users = new IamUserDirectory(iam, {
      lookup: settings.userLookup,
      emailTag: settings.emailTag,
      cacheTtlMs: LOOKUP_CACHE_TTL_MS,
      tagIndex: settings.userIndex ?? USER_INDEX_DEFAULTS,
    });
  }

  /** `present` is the plain read-back, without the policy simulator: is the object there? */
  async inspect(spec: GrantSpec, memo?: StepMemo): Promise<GrantInspection> {
    if (spec.kind === IDENTITY_CENTER_GRANT_KIND) return this.identityCenterFor(spec).inspect(spec);
    const grant = await this.resolve(spec, 'strict', memo);
    return { resourceKey: resourceKeyOf(grant), present: await this.readBack(grant), principal: iamUserRef(grant.user) };
  }

  async grant(spec: GrantSpec, memo?: StepMemo): Promise<void> {
    if (spec.kind === IDENTITY_CENTER_GRANT_KIND) return this.identityCenterFor(spec).grant(spec);
    const grant = await this.resolve(spec, 'strict', memo);
    const UserName = grant.user.name;
    try {
      // Each of these is idempotent in IAM: rewriting the same inline policy, re-attaching an attached
      // policy and re-adding a member all succeed without creating a second copy.
      switch (grant.kind) {
        case 'role':
          await this.iam.send(
            new PutUserPolicyCommand({
              UserName,
              PolicyName: grant.policyName,
              PolicyDocument: roleGrantPolicyDocument(grant.role!.arn, spec.notAfter, spec.principal.toLowerCase(), Date.now()),
            }),
          );
          break;
        case 'policy':
          await this.iam.send(new AttachUserPolicyCommand({ UserName, PolicyArn: grant.policy.arn }));
          break;
        case 'group':
          await this.iam.send(new AddUserToGroupCommand({ UserName, GroupName: grant.group.name }));
          break;
      }
    } catch (error) {
      throw classifyAwsError(error, `granting ${describe(grant)}`);
    }
  }

  /**
   * Removes what the grant created; anything already gone (NoSuchEntity) counts as removed. A role
   * grant's end first denies the requester's earlier sessions on the role: those outlive the inline
   * policy, and they must end even when the user can no longer be confirmed.
   */
  async revoke(spec: GrantSpec, memo?: StepMemo): Promise<void> {
    if (spec.kind === IDENTITY_CENTER_GRANT_KIND) return this.identityCenterFor(spec).revoke(spec);
    if (kindOf(spec) === 'role') {
      const role = await this.findRole(spec.target);
      // No role, no sessions of it: nothing to deny.
      if (role) await this.denyEarlierSessions(role, spec.principal.toLowerCase());
    }
    const grant = await this.resolve(spec, 'lenient', memo);
    if (!grant) return;
    const UserName = grant.user.name;
    try {
      switch (grant.kind) {
        case 'role':
          await unlessGone(this.iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName: grant.policyName })));
          break;
        case 'policy':
          await unlessGone(this.iam.send(new DetachUserPolicyCommand({ UserName, PolicyArn: grant.policy.arn })));
          break;
        case 'group':
          await unlessGone(this.iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName: grant.group.name })));
          break;
      }
    } catch (error) {
      throw classifyAwsError(error, `revoking ${describe(grant)}`);
    }
  }

  async isGranted(spec: GrantSpec, memo?: StepMemo): Promise<boolean> {
    if (spec.kind === IDENTITY_CENTER_GRANT_KIND) return this.identityCenterFor(spec).isGranted(spec);
    let grant: ResolvedGrant | undefined;
    try {
      grant = await this.resolve(spec, 'lenient', memo);
    } catch (error) {
      // The recorded user was deleted (or replaced): it holds nothing. A look-up that became
      // ambiguous (no recorded user) is different: nobody knows who holds it, so it stays an error.
      if (error instanceof PrincipalUnconfirmedError && spec.recordedPrincipal) return false;
      throw error;
    }
    if (!grant || !(await this.readBack(grant))) return false;
    // The simulator needs an action and a resource. A role grant has exactly one (sts:AssumeRole on the
    // role); a group or managed policy can carry any actions, and the membership or attachment read
    // back above is already what IAM evaluates, so they are not simulated.
    if (this.simulatePrincipalPolicy && grant.kind === 'role' && grant.role) return this.simulateAssumeRole(grant.user, grant.role, spec.principal.toLowerCase());
    return true;
  }

  /**
   * Every role grant's inline policy (`p0-<requestId>`) on every IAM user of the account, found by
   * name rather than through the email tag, so a grant whose user lost its tag is still found.
   * Group memberships and policy attachments carry no marker: the reconciler finds those through the
   * grant leases. Identity Center assignments likewise. A user whose policies cannot be listed is
   * retried on its own (retryRounds.ts); one still unreadable fails the listing rather than hide its
   * grants.
   */
  async listMarked(): Promise<MarkedGrant[]> {
    const action = 'listing the inline p0-* policies of IAM users';
    const users = await listAllUsers(this.iam, action);
    const policiesOf = new Map<string, string[]>();
    const failed = await readEachRetrying(users, async ({ name: UserName }) => {
      const names: string[] = [];
      try {
        for await (const page of paginateListUserPolicies({ client: this.iam }, { UserName })) names.push(...(page.PolicyNames ?? []));
      } catch (error) {
        if (!isNoSuchEntity(error)) throw error; // the user was deleted during the scan
      }
      policiesOf.set(UserName, names);
    });
    if (failed.length > 0) {
      // A list with holes would hide those users' grants: the reconciler reports the pass instead.
      const { item, error } = failed[0]!;
      const classified = classifyAwsError(error, `${action} (${failed.length} of ${users.length} could not be read, ${item.name} among them)`);
      if (classified instanceof ProviderInputError) throw classified;
      throw new Error(`${action}: ${failed.length} of ${users.length} users could not be read (${item.name} among them): ${String(error)}`, { cause: error });
    }
    const found: MarkedGrant[] = [];
    for (const { name: UserName } of users) {
      for (const PolicyName of policiesOf.get(UserName) ?? []) {
        const requestId = requestIdOfRoleGrantPolicy(PolicyName);
        if (!requestId) continue;
        found.push({
          provider: this.name,
          requestId,
          description: `IAM user ${UserName}: inline policy ${PolicyName} (role grant)`,
          ref: { userName: UserName, policyName: PolicyName },
        });
      }
    }
    return found;
  }

  async removeMarked(grant: MarkedGrant): Promise<void> {
    const { userName, policyName } = grant.ref;
    if (!userName || !policyName || !requestIdOfRoleGrantPolicy(policyName)) {
      throw new ProviderInputError(`Not an AWS grant the product made: ${grant.description}`);
    }
    try {
      await unlessGone(this.iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: policyName })));
    } catch (error) {
      throw classifyAwsError(error, `removing ${grant.description}`);
    }
  }

  /**
   * Looks up the principal and the target. The principal is the recorded user when the spec carries
   * one (confirmed by its unique id; PrincipalUnconfirmedError when it is gone), else the email's
   * look-up. `strict` (inspect, grant) throws ProviderInputError when either does not exist. `lenient` (revoke, isGranted) answers undefined instead: nothing can be
   * granted to a user or through a group or policy that does not exist, and the workflow removes and
   * re-reads a grant after every failure, including "no such user", so that clean-up must succeed.
   * A role is the exception: its grant is an inline policy on the user that outlives the role, so a
   * missing role still resolves (without an ARN) and the policy is still read back and removed.
   */
  private async resolve(spec: GrantSpec, mode: 'strict', memo?: StepMemo): Promise<ResolvedGrant>;
  private async resolve(spec: GrantSpec, mode: 'lenient', memo?: StepMemo): Promise<ResolvedGrant | undefined>;
  private async resolve(spec: GrantSpec, mode: 'strict' | 'lenient', memo?: StepMemo): Promise<ResolvedGrant | undefined> {
    const kind = kindOf(spec);
    const strict = mode === 'strict';
    const user = spec.recordedPrincipal
      ? await this.users.recorded(spec.recordedPrincipal, memo)
      : strict
        ? await this.users.resolve(spec.principal, memo)
        : await this.users.find(spec.principal, memo);
    if (!user) return undefined;
    const target = spec.target;
    switch (kind) {
      case 'role': {
        const role = await this.findRole(target);
        if (!role && strict) throw new ProviderInputError(`No IAM role named ${target} in this AWS account`);
        return { kind, user, roleName: role?.name ?? target, role, policyName: roleGrantPolicyName(spec.requestId) };
      }
      case 'policy': {
        const policy = await this.findPolicy(target);
        if (policy) return { kind, user, policy };
        if (strict) throw new ProviderInputError(`No IAM managed policy ${target}: create it, or name an existing policy by its name or ARN`);
        return undefined;
      }
      case 'group': {
        const group = await this.findGroup(target);
        if (group) return { kind, user, group };
        if (strict) throw new ProviderInputError(`No IAM group named ${target} in this AWS account`);
        return undefined;
      }
    }
  }

  /** One read of IAM's current state for this grant. */
  private async readBack(grant: ResolvedGrant): Promise<boolean> {
    const UserName = grant.user.name;
    try {
      switch (grant.kind) {
        case 'role': {
          let document: string;
          try {
            ({ PolicyDocument: document = '' } = await this.iam.send(new GetUserPolicyCommand({ UserName, PolicyName: grant.policyName })));
          } catch (error) {
            if (isNoSuchEntity(error)) return false;
            throw error;
          }
          // Without the role there is no ARN to compare with; the policy being there is what matters
          // to a revocation check.
          return grant.role ? allowsAssumingRole(document, grant.role.arn) : true;
        }
        case 'policy':
          for await (const page of paginateListAttachedUserPolicies({ client: this.iam }, { UserName })) {
            if (page.AttachedPolicies?.some((policy) => policy.PolicyArn === grant.policy.arn)) return true;
          }
          return false;
        case 'group':
          for await (const page of paginateListGroupsForUser({ client: this.iam }, { UserName })) {
            if (page.Groups?.some((group) => group.GroupName === grant.group.name)) return true;
          }
          return false;
      }
    } catch (error) {
      // The user was deleted since it was looked up: it holds nothing.
      if (isNoSuchEntity(error)) return false;
      throw classifyAwsError(error, `reading back ${describe(grant)}`);
    }
  }

  /**
   * Denies `sourceIdentity`'s sessions of the role issued before now (the role's inline policy
   * `p0-revoked-sessions-<hash>`, its own, so ends of different people's requests never race), read
   * back. Other identities' denies older than the role's longest session are deleted first: every
   * session they denied has expired. If the role's inline policies are full all the same, every
   * session of the role issued before now is denied instead (`p0-revoked-sessions-all`).
   */
  private async denyEarlierSessions(role: IamEntity, sourceIdentity: string): Promise<void> {
    const RoleName = role.name;
    const what = `denying ${sourceIdentity}'s earlier sessions of IAM role ${RoleName}`;
    try {
      const { Role } = await this.iam.send(new GetRoleCommand({ RoleName }));
      const endedAt = new Date().toISOString();
      const ownName = revokedSessionsPolicyName(sourceIdentity);
      await this.pruneRevokedSessions(RoleName, Date.parse(endedAt) - (Role?.MaxSessionDuration ?? 3600) * 1000, ownName);
      let PolicyName = ownName;
      try {
        await this.iam.send(new PutRolePolicyCommand({ RoleName, PolicyName, PolicyDocument: revokedSessionsDocument(sourceIdentity, endedAt) }));
      } catch (error) {
        if (awsErrorCode(error) !== 'LimitExceeded') throw error;
        PolicyName = REVOKED_ALL_SESSIONS_POLICY_NAME;
        await this.iam.send(new PutRolePolicyCommand({ RoleName, PolicyName, PolicyDocument: revokedSessionsDocument(undefined, endedAt) }));
      }
      // The same requester ending another request of this role at the same moment could have written an
      // earlier end over ours: then the retry writes a new one.
      const written = await this.revokedSessionsPolicy(RoleName, PolicyName);
      const entry = written === undefined ? undefined : revokedSessionsEntry(written);
      if (!entry || Date.parse(entry.issuedBefore) < Date.parse(endedAt)) {
        throw new Error(`${what}: ${PolicyName} does not read back as written; trying again`);
      }
    } catch (error) {
      if (isNoSuchEntity(error)) return; // the role was deleted meanwhile: its sessions end with it
      throw classifyAwsError(error, what);
    }
  }

  /** Deletes the role's revoked-sessions policies (other than `keep`) whose deny ended before `expiredBefore`. */
  private async pruneRevokedSessions(RoleName: string, expiredBefore: number, keep: string): Promise<void> {
    for await (const page of paginateListRolePolicies({ client: this.iam }, { RoleName })) {
      for (const PolicyName of page.PolicyNames ?? []) {
        if (!PolicyName.startsWith(REVOKED_SESSIONS_POLICY_PREFIX) || PolicyName === keep) continue;
        const document = await this.revokedSessionsPolicy(RoleName, PolicyName);
        const entry = document === undefined ? undefined : revokedSessionsEntry(document);
        if (entry && Date.parse(entry.issuedBefore) < expiredBefore) {
          await unlessGone(this.iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName })));
        }
      }
    }
  }

  /** One of the role's inline policies as IAM returns it (URL-encoded), or undefined when there is none. */
  private async revokedSessionsPolicy(RoleName: string, PolicyName: string): Promise<string | undefined> {
    try {
      const { PolicyDocument } = await this.iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }));
      return PolicyDocument;
    } catch (error) {
      if (isNoSuchEntity(error)) return undefined;
      throw error;
    }
  }

  private identityCenterFor(spec: GrantSpec): IdentityCenterAssignments {
    if (this.identityCenter) return this.identityCenter;
    throw new ProviderInputError(`IAM Identity Center is not set up for this AWS provider, so the permission set ${spec.target} cannot be granted`);
  }

  /** Simulates the shortest session the grant allows, named after the requester as the grant requires. */
  private async simulateAssumeRole(user: IamUser, role: IamEntity, sourceIdentity: string): Promise<boolean> {
    try {
      const { EvaluationResults = [] } = await this.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: user.arn,
          ActionNames: ['sts:AssumeRole'],
          ResourceArns: [role.arn],
          // The grant's DateLessThan condition reads the clock; a key the simulation is not given counts
          // as missing, which would make every role grant look denied.
          ContextEntries: [
            { ContextKeyName: 'aws:CurrentTime', ContextKeyType: 'date', ContextKeyValues: [new Date().toISOString()] },
            { ContextKeyName: 'sts:SourceIdentity', ContextKeyType: 'string', ContextKeyValues: [sourceIdentity] },
            { ContextKeyName: 'sts:DurationSeconds', ContextKeyType: 'numeric', ContextKeyValues: [String(STS_MIN_SESSION_SECONDS)] },
          ],
        }),
      );
      return EvaluationResults.length > 0 && EvaluationResults.every((result) => result.EvalDecision === 'allowed');
    } catch (error) {
      throw classifyAwsError(error, `simulating sts:AssumeRole on ${role.arn} for IAM user ${user.name}`);
    }
  }

  private findRole(roleName: string): Promise<IamEntity | undefined> {
    return this.findTarget(`role:${roleName}`, `IAM role ${roleName}`, async () => {
      const { Role } = await this.iam.send(new GetRoleCommand({ RoleName: roleName }));
      return { name: Role!.RoleName!, arn: Role!.Arn! };
    });
  }

  private findGroup(groupName: string): Promise<IamEntity | undefined> {
    return this.findTarget(`group:${groupName}`, `IAM group ${groupName}`, async () => {
      // GetGroup also lists members; one is enough to learn the group exists.
      const { Group } = await this.iam.send(new GetGroupCommand({ GroupName: groupName, MaxItems: 1 }));
      return { name: Group!.GroupName!, arn: Group!.Arn! };
    });
  }

  /**
   * A managed policy by ARN (checked with GetPolicy) or by name, customer-managed or AWS-managed.
   * Names are searched with ListPolicies because policies can sit under a path
   * (`arn:aws:iam::aws:policy/service-role/...`), so the ARN cannot be guessed from the name.
   */
  private findPolicy(target: string): Promise<IamEntity | undefined> {
    return this.findTarget(`policy:${target}`, `IAM managed policy ${target}`, async () => {
      if (target.startsWith('arn:')) {
        const { Policy } = await this.iam.send(new GetPolicyCommand({ PolicyArn: target }));
        return { name: Policy!.PolicyName!, arn: Policy!.Arn! };
      }
      const matches: IamEntity[] = [];
      for await (const page of paginateListPolicies({ client: this.iam, pageSize: 1000 }, { Scope: 'All' })) {
        for (const policy of page.Policies ?? []) {
          if (policy.PolicyName === target) matches.push({ name: policy.PolicyName, arn: policy.Arn! });
        }
      }
      if (matches.length > 1) {
        const arns = matches.map((policy) => policy.arn).join(', ');
        throw new ProviderInputError(`Several IAM managed policies are named ${target} (${arns}): name the one you mean by its ARN`);
      }
      return matches[0];
    });
  }

  /** A cached look-up where NoSuchEntity means "does not exist" (undefined) and other errors are classified. */
  private findTarget(cacheKey: string, what: string, load: () => Promise<IamEntity | undefined>): Promise<IamEntity | undefined> {
    return this.targets.getOrLoad(cacheKey, async () => {
      try {
        return await load();
      } catch (error) {
        if (isNoSuchEntity(error)) return undefined;
        throw classifyAwsError(error, `looking up ${what}`);
      }
    });
  }
}

/** An IAM provider talking to AWS with the SDK's standard configuration. */
export function createAwsIamProvider(settings: AwsSettings): AwsIamProvider {
  // Only the region is set here: credentials and the endpoint (AWS_ENDPOINT_URL, used to point at
  // moto) come from the SDK's standard environment, exactly as for any other AWS tool.
  const identityCenter = settings.identityCenter && createIdentityCenterAssignments(settings.identityCenter);
  return new AwsIamProvider({ iam: new IAMClient({ region: settings.region, requestHandler: AWS_REQUEST_HANDLER }), settings, identityCenter });
}

function kindOf(spec: GrantSpec): IamUserGrantKind {
  const kind = IAM_USER_GRANT_KINDS.find((known) => known === spec.kind);
  if (!kind) throw new ProviderInputError(`AWS has no grant kind "${spec.kind}": use one of ${AWS_GRANT_KINDS.join(', ')}`);
  return kind;
}

/**
 * Two requests with the same key share the IAM object (see GrantInspection.resourceKey); the role
 * grant's inline policy is named after its request, so its key is private to it.
 */
function resourceKeyOf(grant: ResolvedGrant): string {
  const user = `aws:user/${grant.user.name}`;
  switch (grant.kind) {
    case 'role':
      return `${user}:inline/${grant.policyName}`;
    case 'policy':
      return `${user}:policy/${grant.policy.arn}`;
    case 'group':
      return `${user}:group/${grant.group.name}`;
  }
}

function describe(grant: ResolvedGrant): string {
  const user = `IAM user ${grant.user.name}`;
  switch (grant.kind) {
    case 'role':
      return `role ${grant.roleName} (inline policy ${grant.policyName}) for ${user}`;
    case 'policy':
      return `managed policy ${grant.policy.arn} for ${user}`;
    case 'group':
      return `group ${grant.group.name} membership for ${user}`;
  }
}

/** Revoking something already removed is success: NoSuchEntity means there is nothing left to remove. */
async function unlessGone(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!isNoSuchEntity(error)) throw error;
  }
}
