/**
 * The AWS provider's IAM Identity Center mode (catalog kind `permission-set`): a grant assigns the
 * permission set to the requester's Identity Store user on the catalog resource's account. The
 * assignment is one object per (user, permission set, account), shared by every request for it:
 * the grant leases decide when it may be removed, so its resource key carries no request id.
 *
 * AWS creates and deletes assignments asynchronously (it provisions a role in the target account):
 * each call here waits for its operation within a short bound and otherwise fails retryably, since
 * the activities calling grant and revoke do not heartbeat while a provider works.
 */
import { IdentitystoreClient } from '@aws-sdk/client-identitystore';
import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  paginateListAccountAssignments,
  SSOAdminClient,
  type AccountAssignmentOperationStatus,
} from '@aws-sdk/client-sso-admin';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderInputError, type GrantInspection, type GrantSpec } from '../provider';
import { ACCOUNT_PATTERN, type IdentityStoreUserAttribute } from './catalog';
import { IdentityCenterDirectory, type IdentityCenterInstance } from './identityCenterDirectory';
import { classifyIdentityCenterError, isResourceNotFound } from './identityCenterErrors';
import { AWS_REQUEST_HANDLER } from './errors';

export interface IdentityCenterSettings {
  /** The Identity Center instance's home region (sso-admin and identitystore are regional). */
  region: string;
  /** Both optional: whatever is missing comes from ListInstances, which must then show exactly one instance. */
  instanceArn?: string | undefined;
  identityStoreId?: string | undefined;
  /** The Identity Store attribute the requester's email is looked up by. */
  userAttribute: IdentityStoreUserAttribute;
  /** Waiting for AWS to finish creating or deleting an assignment, with doubling pauses. */
  assignmentPolling: { initialIntervalMs: number; maxIntervalMs: number; timeoutMs: number };
}

/** Users and permission sets rarely change; a minute spares Identity Center a scan per activity attempt. */
const LOOKUP_CACHE_TTL_MS = 60_000;

/** A spec with everything looked up: what one account assignment call needs. */
interface ResolvedAssignment {
  instance: IdentityCenterInstance;
  userId: string;
  permissionSetArn: string;
  account: string;
  /** For messages: the permission set's name and the requester. */
  permissionSetName: string;
  principal: string;
}

type Operation = 'creation' | 'deletion';

export class IdentityCenterAssignments {
  private readonly ssoAdmin: SSOAdminClient;
  private readonly directory: IdentityCenterDirectory;
  private readonly assignmentPolling: IdentityCenterSettings['assignmentPolling'];
  /**
   * Creations still IN_PROGRESS when grant gave up waiting, by resource key: the retry waits for the
   * same operation instead of starting a second one (AWS answers that with ConflictException).
   */
  private readonly pendingCreations = new Map<string, string>();

  constructor({ ssoAdmin, identityStore, settings }: { ssoAdmin: SSOAdminClient; identityStore: IdentitystoreClient; settings: IdentityCenterSettings }) {
    this.ssoAdmin = ssoAdmin;
    this.assignmentPolling = settings.assignmentPolling;
    this.directory = new IdentityCenterDirectory(ssoAdmin, identityStore, {
      instanceArn: settings.instanceArn,
      identityStoreId: settings.identityStoreId,
      userAttribute: settings.userAttribute,
      cacheTtlMs: LOOKUP_CACHE_TTL_MS,
    });
  }

  /** `present` is true for an assignment made outside the product too (standing access). */
  async inspect(spec: GrantSpec): Promise<GrantInspection> {
    const assignment = await this.resolve(spec, 'strict');
    return { resourceKey: resourceKeyOf(assignment), present: await this.isAssigned(assignment), principal: { identityStoreUserId: assignment.userId } };
  }

  /**
   * Assigns the permission set unless the user already has it: creating it twice would start a
   * second operation on the same assignment (and moto would even keep two copies).
   */
  async grant(spec: GrantSpec): Promise<void> {
    const assignment = await this.resolve(spec, 'strict');
    const key = resourceKeyOf(assignment);
    const earlier = await this.settlePendingCreation(assignment, key);
    if (earlier) return failIfNotCreated(assignment, earlier);
    if (await this.isAssigned(assignment)) return;
    let status: AccountAssignmentOperationStatus | undefined;
    try {
      ({ AccountAssignmentCreationStatus: status } = await this.ssoAdmin.send(new CreateAccountAssignmentCommand(assignmentInput(assignment))));
    } catch (error) {
      throw classifyIdentityCenterError(error, `assigning ${describe(assignment)}`);
    }
    failIfNotCreated(assignment, await this.awaitCreation(assignment, key, status));
  }

  /** Removes the assignment; one already gone (or whose user or permission set is gone) counts as removed. */
  async revoke(spec: GrantSpec): Promise<void> {
    const assignment = await this.resolve(spec, 'lenient');
    if (!assignment) return;
    // A creation still under way would land after the removal: it has to finish first.
    await this.settlePendingCreation(assignment, resourceKeyOf(assignment));
    if (!(await this.isAssigned(assignment))) return;
    let status: AccountAssignmentOperationStatus | undefined;
    try {
      ({ AccountAssignmentDeletionStatus: status } = await this.ssoAdmin.send(new DeleteAccountAssignmentCommand(assignmentInput(assignment))));
    } catch (error) {
      if (isResourceNotFound(error)) return;
      throw classifyIdentityCenterError(error, `removing ${describe(assignment)}`);
    }
    const final = await this.awaitOperation(assignment, 'deletion', status);
    // Removal is retried whatever the error, so a failed deletion is a plain error, not an input error.
    if (final.Status === 'FAILED') throw new Error(`AWS failed removing ${describe(assignment)}: ${final.FailureReason ?? 'no reason given'}`);
  }

  async isGranted(spec: GrantSpec): Promise<boolean> {
    const assignment = await this.resolve(spec, 'lenient');
    return assignment ? this.isAssigned(assignment) : false;
  }

  /**
   * Looks up the instance, the user (unless the spec carries the recorded one) and the permission set. `strict` (inspect, grant) throws
   * ProviderInputError when one does not exist; `lenient` (revoke, isGranted) answers undefined,
   * because nothing can be assigned to a user or of a permission set that does not exist, and the
   * clean-up after such a failure must succeed.
   */
  private async resolve(spec: GrantSpec, mode: 'strict'): Promise<ResolvedAssignment>;
  private async resolve(spec: GrantSpec, mode: 'lenient'): Promise<ResolvedAssignment | undefined>;
  private async resolve(spec: GrantSpec, mode: 'strict' | 'lenient'): Promise<ResolvedAssignment | undefined> {
    const strict = mode === 'strict';
    const account = spec.scope.account;
    if (account === undefined || !ACCOUNT_PATTERN.test(account)) {
      if (!strict) return undefined;
      throw new ProviderInputError(
        `The permission set ${spec.target} needs an AWS account: give the catalog resource ${spec.resource} an account (12 digits)` +
          (account === undefined ? '' : `, not "${account}"`),
      );
    }
    const instance = await this.directory.resolveInstance();
    // The user the grant was made to, when recorded: never looked up by email again.
    const recordedUserId = spec.recordedPrincipal?.identityStoreUserId;
    const userId =
      recordedUserId ?? (strict ? await this.directory.resolveUser(instance, spec.principal) : await this.directory.findUser(instance, spec.principal));
    if (!userId) return undefined;
    const permissionSetArn = strict
      ? await this.directory.resolvePermissionSet(instance, spec.target)
      : await this.directory.findPermissionSet(instance, spec.target);
    if (!permissionSetArn) return undefined;
    return { instance, userId, permissionSetArn, account, permissionSetName: spec.target, principal: spec.principal };
  }

  /** One read of Identity Center's current state: is the permission set assigned to the user itself on the account? */
  private async isAssigned(assignment: ResolvedAssignment): Promise<boolean> {
    const { instance, account, permissionSetArn, userId } = assignment;
    try {
      const pages = paginateListAccountAssignments(
        { client: this.ssoAdmin, pageSize: 100 },
        { InstanceArn: instance.instanceArn, AccountId: account, PermissionSetArn: permissionSetArn },
      );
      for await (const page of pages) {
        // Only the user's own assignment: one through a group is not what the product grants or removes.
        if (page.AccountAssignments?.some((row) => row.PrincipalType === 'USER' && row.PrincipalId === userId)) return true;
      }
      return false;
    } catch (error) {
      throw classifyIdentityCenterError(error, `reading the assignments of ${describe(assignment)}`);
    }
  }

  /** Waits for a creation, remembering it when it outlasts the bound so the retry waits for it too. */
  private async awaitCreation(
    assignment: ResolvedAssignment,
    key: string,
    status: AccountAssignmentOperationStatus | undefined,
  ): Promise<AccountAssignmentOperationStatus> {
    try {
      return await this.awaitOperation(assignment, 'creation', status);
    } catch (error) {
      if (error instanceof StillInProgress) this.pendingCreations.set(key, error.requestId);
      throw error;
    }
  }

  /**
   * The final status of a creation an earlier attempt left IN_PROGRESS, or undefined when there is
   * none. Forgotten before asking: if its status cannot be read, the next attempt starts over.
   */
  private async settlePendingCreation(assignment: ResolvedAssignment, key: string): Promise<AccountAssignmentOperationStatus | undefined> {
    const requestId = this.pendingCreations.get(key);
    if (requestId === undefined) return undefined;
    this.pendingCreations.delete(key);
    return this.awaitCreation(assignment, key, await this.describe(assignment, 'creation', requestId));
  }

  /**
   * Polls the operation's status until it leaves IN_PROGRESS, pausing `initialIntervalMs`, doubling up
   * to `maxIntervalMs`; past `timeoutMs`, a retryable StillInProgress.
   */
  private async awaitOperation(
    assignment: ResolvedAssignment,
    operation: Operation,
    first: AccountAssignmentOperationStatus | undefined,
  ): Promise<AccountAssignmentOperationStatus> {
    const { initialIntervalMs, maxIntervalMs, timeoutMs } = this.assignmentPolling;
    const deadline = Date.now() + timeoutMs;
    let status = first;
    let pauseMs = initialIntervalMs;
    for (;;) {
      if (status?.Status === 'SUCCEEDED' || status?.Status === 'FAILED') return status;
      const requestId = status?.RequestId;
      if (!requestId) throw new Error(`AWS returned no request id for the ${operation} of ${describe(assignment)}`);
      if (Date.now() + pauseMs > deadline) {
        throw new StillInProgress(`AWS is still working on the ${operation} of ${describe(assignment)} (request ${requestId}) after ${timeoutMs} ms`, requestId);
      }
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, maxIntervalMs);
      status = await this.describe(assignment, operation, requestId);
    }
  }

  private async describe(assignment: ResolvedAssignment, operation: Operation, requestId: string): Promise<AccountAssignmentOperationStatus | undefined> {
    const InstanceArn = assignment.instance.instanceArn;
    try {
      if (operation === 'creation') {
        const answer = await this.ssoAdmin.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn, AccountAssignmentCreationRequestId: requestId }));
        return answer.AccountAssignmentCreationStatus;
      }
      const answer = await this.ssoAdmin.send(new DescribeAccountAssignmentDeletionStatusCommand({ InstanceArn, AccountAssignmentDeletionRequestId: requestId }));
      return answer.AccountAssignmentDeletionStatus;
    } catch (error) {
      // Not learning how an operation went is no fault of the input: whatever the code, the caller retries.
      throw new Error(`AWS could not report the ${operation} status ${requestId} of ${describe(assignment)}: ${String(error)}`, { cause: error });
    }
  }
}

/** FAILED is AWS refusing the input (an account outside the organisation, say): never worth retrying. */
function failIfNotCreated(assignment: ResolvedAssignment, final: AccountAssignmentOperationStatus): void {
  if (final.Status === 'FAILED') {
    throw new ProviderInputError(`AWS could not assign ${describe(assignment)}: ${final.FailureReason ?? 'no reason given'}`);
  }
}

/** An assignment operation AWS has not finished within the polling bound: retried by the activity. */
export class StillInProgress extends Error {
  override readonly name = 'StillInProgress';
  constructor(
    message: string,
    readonly requestId: string,
  ) {
    super(message);
  }
}

/** Identity Center clients for the settings' region, configured by the SDK's standard environment. */
export function createIdentityCenterAssignments(settings: IdentityCenterSettings): IdentityCenterAssignments {
  // Like the IAM client: credentials and the endpoint (AWS_ENDPOINT_URL, for moto) come from the environment.
  return new IdentityCenterAssignments({
    ssoAdmin: new SSOAdminClient({ region: settings.region, requestHandler: AWS_REQUEST_HANDLER }),
    identityStore: new IdentitystoreClient({ region: settings.region, requestHandler: AWS_REQUEST_HANDLER }),
    settings,
  });
}

/** One key per (user, permission set, account), whichever request asks: the assignment is shared. */
function resourceKeyOf(assignment: ResolvedAssignment): string {
  const { instance, userId, account, permissionSetArn } = assignment;
  return `aws:identity-center/${instance.identityStoreId}/user/${userId}:account/${account}:permission-set/${permissionSetArn}`;
}

function assignmentInput(assignment: ResolvedAssignment) {
  return {
    InstanceArn: assignment.instance.instanceArn,
    TargetId: assignment.account,
    TargetType: 'AWS_ACCOUNT',
    PermissionSetArn: assignment.permissionSetArn,
    PrincipalType: 'USER',
    PrincipalId: assignment.userId,
  } as const;
}

function describe(assignment: ResolvedAssignment): string {
  return `permission set ${assignment.permissionSetName} on account ${assignment.account} to ${assignment.principal}`;
}
