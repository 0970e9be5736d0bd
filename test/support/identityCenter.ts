/**
 * IAM Identity Center facts for tests, read and written straight through moto: moto's own instance
 * (one per account and region, found with ListInstances), Identity Store users, permission sets and
 * the account assignments a user holds.
 */
import { CreateUserCommand, IdentitystoreClient } from '@aws-sdk/client-identitystore';
import {
  CreateAccountAssignmentCommand,
  CreatePermissionSetCommand,
  ListAccountAssignmentsForPrincipalCommand,
  ListInstancesCommand,
  ListPermissionSetsCommand,
  DescribePermissionSetCommand,
  SSOAdminClient,
} from '@aws-sdk/client-sso-admin';

const TEST_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface IdentityCenterFixture {
  ssoAdmin: SSOAdminClient;
  identityStore: IdentitystoreClient;
  instanceArn: string;
  identityStoreId: string;
}

/** Clients for moto at `endpoint` and moto's Identity Center instance (us-east-1, account 123456789012). */
export async function identityCenterOn(endpoint: string): Promise<IdentityCenterFixture> {
  const options = { region: 'us-east-1', endpoint, credentials: TEST_CREDENTIALS };
  const ssoAdmin = new SSOAdminClient(options);
  const identityStore = new IdentitystoreClient(options);
  const { Instances = [] } = await ssoAdmin.send(new ListInstancesCommand({}));
  const instance = Instances[0];
  if (Instances.length !== 1 || !instance?.InstanceArn || !instance.IdentityStoreId) {
    throw new Error(`expected moto to show exactly one Identity Center instance, got ${JSON.stringify(Instances)}`);
  }
  return { ssoAdmin, identityStore, instanceArn: instance.InstanceArn, identityStoreId: instance.IdentityStoreId };
}

export function destroyFixture(fixture: IdentityCenterFixture | undefined): void {
  fixture?.ssoAdmin.destroy();
  fixture?.identityStore.destroy();
}

let counter = 0;

/** A fresh requester email and their Identity Store user (email = `emails.value`; userName as given or derived). */
export async function newIdentityStoreUser(fixture: IdentityCenterFixture, label = 'sso', options: { userName?: string } = {}): Promise<{ email: string; userId: string }> {
  counter += 1;
  const email = `${label}-${process.pid}-${counter}@example.com`;
  const { UserId } = await fixture.identityStore.send(
    new CreateUserCommand({
      IdentityStoreId: fixture.identityStoreId,
      UserName: options.userName ?? `user-${label}-${process.pid}-${counter}`,
      DisplayName: email,
      Name: { GivenName: label, FamilyName: 'Tester' },
      Emails: [{ Value: email, Primary: true, Type: 'work' }],
    }),
  );
  return { email, userId: UserId! };
}

/** The ARN of the permission set `name`, created if missing (idempotent: the run may share one moto). */
export async function ensurePermissionSet(fixture: IdentityCenterFixture, name: string): Promise<string> {
  const { PermissionSets = [] } = await fixture.ssoAdmin.send(new ListPermissionSetsCommand({ InstanceArn: fixture.instanceArn }));
  for (const arn of PermissionSets) {
    const { PermissionSet } = await fixture.ssoAdmin.send(new DescribePermissionSetCommand({ InstanceArn: fixture.instanceArn, PermissionSetArn: arn }));
    if (PermissionSet?.Name === name) return arn;
  }
  const { PermissionSet } = await fixture.ssoAdmin.send(new CreatePermissionSetCommand({ InstanceArn: fixture.instanceArn, Name: name }));
  return PermissionSet!.PermissionSetArn!;
}

/** Assigns directly, as an administrator would outside the product (standing access). */
export async function assignDirectly(fixture: IdentityCenterFixture, userId: string, permissionSetArn: string, account: string): Promise<void> {
  await fixture.ssoAdmin.send(
    new CreateAccountAssignmentCommand({
      InstanceArn: fixture.instanceArn,
      TargetId: account,
      TargetType: 'AWS_ACCOUNT',
      PermissionSetArn: permissionSetArn,
      PrincipalType: 'USER',
      PrincipalId: userId,
    }),
  );
}

/** Every assignment row of the user, as `<account>:<permission set ARN>`, sorted; duplicates kept (moto can hold two). */
export async function assignmentsOf(fixture: IdentityCenterFixture, userId: string): Promise<string[]> {
  const { AccountAssignments = [] } = await fixture.ssoAdmin.send(
    new ListAccountAssignmentsForPrincipalCommand({ InstanceArn: fixture.instanceArn, PrincipalId: userId, PrincipalType: 'USER' }),
  );
  return AccountAssignments.map((row) => `${row.AccountId}:${row.PermissionSetArn}`).sort();
}
