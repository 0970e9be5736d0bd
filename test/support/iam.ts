/** IAM facts the lifecycle tests compare: what a user holds, read straight from moto. */
import {
  AddUserToGroupCommand,
  CreateGroupCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetUserPolicyCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListUserPoliciesCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { createIamUser } from './moto';

let counter = 0;

/** A fresh requester: an email nobody else in the run uses, and its IAM user (found by tag). */
export async function newRequester(iam: IAMClient, label = 'user'): Promise<{ email: string; userName: string }> {
  counter += 1;
  const email = `${label}-${process.pid}-${counter}@example.com`;
  const userName = await createIamUser(iam, email, { tag: true });
  return { email, userName };
}

/**
 * Fills an account: `count` users `<prefix>-<n>`, each tagged `email=<prefix>-<n>@example.com`,
 * 20 created at a time (moto makes about 100 a second that way). Returns how long it took, in ms.
 */
export async function createTaggedUsers(iam: IAMClient, prefix: string, count: number): Promise<number> {
  const startedAt = Date.now();
  for (let start = 0; start < count; start += 20) {
    const batch = Array.from({ length: Math.min(20, count - start) }, (_, offset) => `${prefix}-${start + offset}`);
    await Promise.all(batch.map((UserName) => iam.send(new CreateUserCommand({ UserName, Tags: [{ Key: 'email', Value: `${UserName}@example.com` }] }))));
  }
  return Date.now() - startedAt;
}

export interface IamHoldings {
  inlinePolicies: string[];
  attachedPolicies: string[];
  groups: string[];
}

export async function holdings(iam: IAMClient, userName: string): Promise<IamHoldings> {
  const [inline, attached, groups] = await Promise.all([
    iam.send(new ListUserPoliciesCommand({ UserName: userName })),
    iam.send(new ListAttachedUserPoliciesCommand({ UserName: userName })),
    iam.send(new ListGroupsForUserCommand({ UserName: userName })),
  ]);
  return {
    inlinePolicies: (inline.PolicyNames ?? []).sort(),
    attachedPolicies: (attached.AttachedPolicies ?? []).map((policy) => policy.PolicyArn!).sort(),
    groups: (groups.Groups ?? []).map((group) => group.GroupName!).sort(),
  };
}

export async function inlinePolicyDocument(iam: IAMClient, userName: string, policyName: string): Promise<Record<string, unknown>> {
  const answer = await iam.send(new GetUserPolicyCommand({ UserName: userName, PolicyName: policyName }));
  return JSON.parse(decodeURIComponent(answer.PolicyDocument!)) as Record<string, unknown>;
}

/** The catalog's IAM objects (idempotent: the run shares one moto). */
export async function ensureCatalogObjects(iam: IAMClient): Promise<void> {
  const assumeRolePolicy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }],
  });
  await ignoreExists(iam.send(new CreateRoleCommand({ RoleName: 'AdminRole', AssumeRolePolicyDocument: assumeRolePolicy })));
  await ignoreExists(iam.send(new CreateGroupCommand({ GroupName: 'Developers' })));
}

export async function addToGroup(iam: IAMClient, userName: string, group: string): Promise<void> {
  await iam.send(new AddUserToGroupCommand({ UserName: userName, GroupName: group }));
}

async function ignoreExists(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    // The SDK names it EntityAlreadyExistsException (moto) or EntityAlreadyExists.
    if (!String((error as { name?: string }).name).startsWith('EntityAlreadyExists')) throw error;
  }
}
