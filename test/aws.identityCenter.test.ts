/**
 * The AWS provider's IAM Identity Center mode (kind `permission-set`) against a real moto server with
 * moto's own Identity Center instance: the assignment's whole life, standing access, look-ups, input
 * errors, AWS's asynchronous operation statuses (stubbed where moto always answers SUCCEEDED at once)
 * and error classification.
 */
import assert from 'node:assert/strict';
import { CreateUserCommand, DeleteUserCommand } from '@aws-sdk/client-identitystore';
import { SSOAdminClient, type AccountAssignmentOperationStatus } from '@aws-sdk/client-sso-admin';
import { ProviderInputError, type GrantSpec } from '../providers/provider';
import { IdentityCenterAssignments, StillInProgress, type IdentityCenterSettings } from '../providers/aws/identityCenter';
import { classifyIdentityCenterError } from '../providers/aws/identityCenterErrors';
import { AwsIamProvider, type AwsSettings } from '../providers/aws/iamProvider';
import {
  assignDirectly,
  assignmentsOf,
  destroyFixture,
  ensurePermissionSet,
  identityCenterOn,
  newIdentityStoreUser,
  type IdentityCenterFixture,
} from './support/identityCenter';
import { iamClientFor, MOTO_AWS_SETTINGS, type RunningMoto, startMoto } from './support/moto';

const IDENTITY_CENTER: IdentityCenterSettings = {
  region: 'us-east-1',
  userAttribute: 'emails.value',
  assignmentPolling: { initialIntervalMs: 10, maxIntervalMs: 40, timeoutMs: 300 },
};

const SETTINGS: AwsSettings = { ...MOTO_AWS_SETTINGS, identityCenter: IDENTITY_CENTER };

const NOT_AFTER = '2030-01-01T00:00:00.000Z';
const PERMISSION_SET = 'P0TestAdmin';

let sequence = 0;
/** A 12-digit account nobody else in this file uses, so assignments never meet. */
function newAccount(): string {
  sequence += 1;
  return String(400_000_000_000 + sequence);
}

function specFor(target: string, principal: string, account: string | undefined): GrantSpec {
  sequence += 1;
  return {
    requestId: `req-${sequence}`,
    provider: 'aws',
    resource: 'sandbox',
    scope: account === undefined ? {} : { account },
    kind: 'permission-set',
    target,
    principal,
    notAfter: NOT_AFTER,
  };
}

/** Asserts a ProviderInputError whose message mentions every one of `words`. */
async function rejectsAsInput(call: Promise<unknown>, ...words: string[]): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ProviderInputError, `expected a ProviderInputError, got ${String(error)}`);
    for (const word of words) assert.ok(error.message.includes(word), `"${error.message}" should mention ${word}`);
    return true;
  });
}

describe('AWS IAM Identity Center mode (moto)', function () {
  this.timeout(30_000);
  let moto: RunningMoto;
  let fixture: IdentityCenterFixture;
  let provider: AwsIamProvider;
  let permissionSetArn: string;

  /** The provider as the registry builds it, on clients of our own (the instance comes from ListInstances). */
  function providerWith(ssoAdmin: SSOAdminClient, settings: Partial<IdentityCenterSettings> = {}): AwsIamProvider {
    const identityCenter = new IdentityCenterAssignments({ ssoAdmin, identityStore: fixture.identityStore, settings: { ...IDENTITY_CENTER, ...settings } });
    return new AwsIamProvider({ iam: iamClientFor(moto.endpoint), settings: SETTINGS, identityCenter });
  }

  before(async function () {
    moto = await startMoto();
    fixture = await identityCenterOn(moto.endpoint);
    permissionSetArn = await ensurePermissionSet(fixture, PERMISSION_SET);
    provider = providerWith(fixture.ssoAdmin);
  });

  after(async function () {
    destroyFixture(fixture);
    await moto?.stop();
  });

  it('inspect, grant, read back and revoke, each idempotent, with one assignment row at most', async function () {
    const { email, userId } = await newIdentityStoreUser(fixture, 'lifecycle');
    const account = newAccount();
    const spec = specFor(PERMISSION_SET, email, account);
    const resourceKey = `aws:identity-center/${fixture.identityStoreId}/user/${userId}:account/${account}:permission-set/${permissionSetArn}`;

    assert.deepEqual(await provider.inspect(spec), { resourceKey, present: false, principal: { identityStoreUserId: userId } });
    assert.equal(await provider.isGranted(spec), false);

    await provider.grant(spec);
    assert.deepEqual(await assignmentsOf(fixture, userId), [`${account}:${permissionSetArn}`]);
    assert.equal(await provider.isGranted(spec), true);
    assert.deepEqual(await provider.inspect(spec), { resourceKey, present: true, principal: { identityStoreUserId: userId } });

    // moto would keep a second row for a second CreateAccountAssignment; the provider never sends one.
    await provider.grant(spec);
    assert.deepEqual(await assignmentsOf(fixture, userId), [`${account}:${permissionSetArn}`]);

    await provider.revoke(spec);
    assert.deepEqual(await assignmentsOf(fixture, userId), []);
    assert.equal(await provider.isGranted(spec), false);
    await provider.revoke(spec);
    assert.equal(await provider.isGranted(spec), false);
  });

  it('revokes the assignment of the user recorded at grant time, not of whoever has the email by then', async function () {
    const { email, userId } = await newIdentityStoreUser(fixture, 'recorded');
    const account = newAccount();
    const spec = specFor(PERMISSION_SET, email, account);
    const recorded = { ...spec, recordedPrincipal: (await provider.inspect(spec)).principal };
    await provider.grant(recorded);
    // The user is deleted and someone else now has the address (and the same access, on their own).
    await fixture.identityStore.send(new DeleteUserCommand({ IdentityStoreId: fixture.identityStoreId, UserId: userId }));
    const { UserId: newcomer } = await fixture.identityStore.send(
      new CreateUserCommand({
        IdentityStoreId: fixture.identityStoreId,
        UserName: `newcomer-${userId}`,
        DisplayName: email,
        Name: { GivenName: 'new', FamilyName: 'Tester' },
        Emails: [{ Value: email, Primary: true, Type: 'work' }],
      }),
    );
    await assignDirectly(fixture, newcomer!, permissionSetArn, account);

    const fresh = providerWith(fixture.ssoAdmin);
    assert.equal(await fresh.isGranted(recorded), true);
    await fresh.revoke(recorded);
    assert.equal(await fresh.isGranted(recorded), false);
    assert.deepEqual(await assignmentsOf(fixture, userId), []);
    assert.deepEqual(await assignmentsOf(fixture, newcomer!), [`${account}:${permissionSetArn}`], 'the newcomer keeps their own assignment');
  });

  it('the resource key is the assignment, whichever request asks; an assignment made outside reads as present', async function () {
    const { email, userId } = await newIdentityStoreUser(fixture, 'standing');
    const account = newAccount();
    await assignDirectly(fixture, userId, permissionSetArn, account);
    const first = await provider.inspect(specFor(PERMISSION_SET, email, account));
    const second = await provider.inspect(specFor(PERMISSION_SET, email, account));
    assert.equal(first.present, true);
    assert.equal(first.resourceKey, second.resourceKey);
    assert.doesNotMatch(first.resourceKey, /req-/);
    // Another account is another assignment.
    const elsewhere = await provider.inspect(specFor(PERMISSION_SET, email, newAccount()));
    assert.equal(elsewhere.present, false);
    assert.notEqual(elsewhere.resourceKey, first.resourceKey);
  });

  it('only the user\'s own assignment counts, on the right account and permission set', async function () {
    const { email, userId } = await newIdentityStoreUser(fixture, 'own');
    const other = await newIdentityStoreUser(fixture, 'other');
    const account = newAccount();
    const otherSet = await ensurePermissionSet(fixture, 'P0TestReadOnly');
    await assignDirectly(fixture, other.userId, permissionSetArn, account);
    await assignDirectly(fixture, userId, otherSet, account);
    await assignDirectly(fixture, userId, permissionSetArn, newAccount());
    assert.equal(await provider.isGranted(specFor(PERMISSION_SET, email, account)), false);
  });

  describe('look-ups', function () {
    it('finds the user by userName when configured so', async function () {
      sequence += 1;
      const email = `by-name-${process.pid}-${sequence}@example.com`;
      // The user's email attribute is something else: only the userName carries the address.
      const { userId } = await newIdentityStoreUser(fixture, 'by-name', { userName: email });
      const byName = providerWith(fixture.ssoAdmin, { userAttribute: 'userName' });
      const account = newAccount();
      const spec = specFor(PERMISSION_SET, email, account);
      assert.match((await byName.inspect(spec)).resourceKey, new RegExp(`/user/${userId}:`));
      await rejectsAsInput(provider.inspect(spec), email, 'email address');
      await byName.grant(spec);
      assert.deepEqual(await assignmentsOf(fixture, userId), [`${account}:${permissionSetArn}`]);
      await byName.revoke(spec);
      assert.deepEqual(await assignmentsOf(fixture, userId), []);
    });

    it('uses a configured instance and identity store without ListInstances', async function () {
      let listed = 0;
      const counting = stubbedSsoAdmin(moto.endpoint, (command, next) => {
        if (command === 'ListInstancesCommand') listed += 1;
        return next();
      });
      const configured = providerWith(counting, { instanceArn: fixture.instanceArn, identityStoreId: fixture.identityStoreId });
      const discovered = providerWith(counting);
      const { email } = await newIdentityStoreUser(fixture, 'configured');
      const spec = specFor(PERMISSION_SET, email, newAccount());
      assert.equal((await configured.inspect(spec)).present, false);
      assert.equal(listed, 0);
      assert.equal((await discovered.inspect(spec)).present, false);
      assert.equal((await discovered.inspect(spec)).present, false);
      assert.equal(listed, 1, 'the discovered instance is remembered');
      counting.destroy();
    });

    it('refuses an instance ARN that ListInstances does not show', async function () {
      const wrong = providerWith(fixture.ssoAdmin, { instanceArn: 'arn:aws:sso:::instance/ssoins-0000000000000000' });
      const { email } = await newIdentityStoreUser(fixture, 'wrong-instance');
      await rejectsAsInput(wrong.inspect(specFor(PERMISSION_SET, email, newAccount())), 'ssoins-0000000000000000', 'aws.identityCenter');
    });
  });

  describe('bad input', function () {
    it('an unknown permission set is a ProviderInputError naming it, and nothing is assigned', async function () {
      const { email, userId } = await newIdentityStoreUser(fixture, 'no-set');
      const spec = specFor('NoSuchPermissionSet', email, newAccount());
      await rejectsAsInput(provider.inspect(spec), 'NoSuchPermissionSet');
      await rejectsAsInput(provider.grant(spec), 'NoSuchPermissionSet');
      // The clean-up the workflow runs after every failed provision must succeed.
      await provider.revoke(spec);
      assert.equal(await provider.isGranted(spec), false);
      assert.deepEqual(await assignmentsOf(fixture, userId), []);
    });

    it('an email no Identity Store user has is a ProviderInputError naming it', async function () {
      sequence += 1;
      const email = `nobody-${process.pid}-${sequence}@example.com`;
      const spec = specFor(PERMISSION_SET, email, newAccount());
      await rejectsAsInput(provider.inspect(spec), email, fixture.identityStoreId);
      await rejectsAsInput(provider.grant(spec), email);
      await provider.revoke(spec);
      assert.equal(await provider.isGranted(spec), false);
    });

    it('a catalog resource without an account is a ProviderInputError naming the resource', async function () {
      const { email } = await newIdentityStoreUser(fixture, 'no-account');
      await rejectsAsInput(provider.inspect(specFor(PERMISSION_SET, email, undefined)), PERMISSION_SET, 'sandbox', 'account');
      await rejectsAsInput(provider.grant(specFor(PERMISSION_SET, email, '1234')), '"1234"');
      await provider.revoke(specFor(PERMISSION_SET, email, undefined));
      assert.equal(await provider.isGranted(specFor(PERMISSION_SET, email, undefined)), false);
    });

    it('a provider built without Identity Center refuses the kind', async function () {
      const iamOnly = new AwsIamProvider({ iam: iamClientFor(moto.endpoint), settings: SETTINGS });
      await rejectsAsInput(iamOnly.inspect(specFor(PERMISSION_SET, 'x@example.com', newAccount())), 'Identity Center', PERMISSION_SET);
    });
  });

  describe("AWS's asynchronous operations (statuses stubbed: moto reports SUCCEEDED at once)", function () {
    /** Per command, how many more IN_PROGRESS answers to give before letting moto's answer through. */
    let inProgress: Record<string, number>;
    let calls: string[];
    let failure: AccountAssignmentOperationStatus | undefined;
    let stubbed: SSOAdminClient;
    let slow: AwsIamProvider;

    before(function () {
      stubbed = stubbedSsoAdmin(moto.endpoint, async (command, next) => {
        calls.push(command);
        if (command === 'CreateAccountAssignmentCommand' && failure) {
          return { AccountAssignmentCreationStatus: failure };
        }
        const output = await next();
        const pending = inProgress[command] ?? 0;
        if (pending > 0) {
          inProgress[command] = pending - 1;
          for (const field of ['AccountAssignmentCreationStatus', 'AccountAssignmentDeletionStatus'] as const) {
            const status = output[field] as AccountAssignmentOperationStatus | undefined;
            if (status) status.Status = 'IN_PROGRESS';
          }
        }
        return output;
      });
      slow = providerWith(stubbed);
    });
    beforeEach(function () {
      inProgress = {};
      calls = [];
      failure = undefined;
    });
    after(function () {
      stubbed.destroy();
    });

    it('waits for a creation and a deletion that are IN_PROGRESS at first', async function () {
      const { email, userId } = await newIdentityStoreUser(fixture, 'async');
      const spec = specFor(PERMISSION_SET, email, newAccount());
      inProgress = { CreateAccountAssignmentCommand: 1, DescribeAccountAssignmentCreationStatusCommand: 2 };
      await slow.grant(spec);
      assert.equal(calls.filter((command) => command === 'DescribeAccountAssignmentCreationStatusCommand').length, 3);
      assert.equal((await assignmentsOf(fixture, userId)).length, 1);

      inProgress = { DeleteAccountAssignmentCommand: 1, DescribeAccountAssignmentDeletionStatusCommand: 1 };
      await slow.revoke(spec);
      assert.equal(calls.filter((command) => command === 'DescribeAccountAssignmentDeletionStatusCommand').length, 2);
      assert.deepEqual(await assignmentsOf(fixture, userId), []);
    });

    it("a FAILED creation is a ProviderInputError with AWS's reason", async function () {
      const { email, userId } = await newIdentityStoreUser(fixture, 'failed');
      failure = { Status: 'FAILED', RequestId: 'req-failed', FailureReason: 'Received a 404 status error: Not supported account' };
      await rejectsAsInput(slow.grant(specFor(PERMISSION_SET, email, newAccount())), 'Not supported account', PERMISSION_SET);
      assert.deepEqual(await assignmentsOf(fixture, userId), []);
    });

    it('a creation still IN_PROGRESS past the bound fails retryably; the retry waits for it instead of creating again', async function () {
      const { email, userId } = await newIdentityStoreUser(fixture, 'slow');
      const spec = specFor(PERMISSION_SET, email, newAccount());
      inProgress = { CreateAccountAssignmentCommand: 1, DescribeAccountAssignmentCreationStatusCommand: 1_000 };
      const started = Date.now();
      await assert.rejects(slow.grant(spec), (error: unknown) => error instanceof StillInProgress && !(error instanceof ProviderInputError));
      assert.ok(Date.now() - started < 2_000, 'the wait is bounded by assignmentPolling.timeout');

      inProgress = {};
      calls = [];
      await slow.grant(spec);
      assert.deepEqual(calls, ['DescribeAccountAssignmentCreationStatusCommand']);
      assert.equal((await assignmentsOf(fixture, userId)).length, 1);
    });

    it('a revoke waits for a creation still under way, so the assignment cannot land after the removal', async function () {
      const { email, userId } = await newIdentityStoreUser(fixture, 'revoke-pending');
      const spec = specFor(PERMISSION_SET, email, newAccount());
      inProgress = { CreateAccountAssignmentCommand: 1, DescribeAccountAssignmentCreationStatusCommand: 1_000 };
      await assert.rejects(slow.grant(spec), StillInProgress);
      await assert.rejects(slow.revoke(spec), StillInProgress, 'the creation is still under way');
      assert.ok(!calls.includes('DeleteAccountAssignmentCommand'));

      inProgress = {};
      await slow.revoke(spec);
      assert.deepEqual(await assignmentsOf(fixture, userId), []);
      assert.equal(await slow.isGranted(spec), false);
    });
  });
});

/**
 * An sso-admin client for moto whose every command first goes through `handle(commandName, next)`,
 * which may answer by itself or pass the command on (and edit moto's answer).
 */
function stubbedSsoAdmin(
  endpoint: string,
  handle: (command: string, next: () => Promise<Record<string, unknown>>) => Record<string, unknown> | Promise<Record<string, unknown>>,
): SSOAdminClient {
  const client = new SSOAdminClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      let response: unknown = {};
      const output = await handle(context.commandName ?? '', async () => {
        const result = await next(args);
        response = result.response;
        return result.output as unknown as Record<string, unknown>;
      });
      return { output: { $metadata: {}, ...output }, response };
    },
    { step: 'initialize', name: 'stubAssignmentStatus' },
  );
  return client;
}

describe('classifyIdentityCenterError', function () {
  const awsError = (name: string, httpStatusCode: number, message = 'details') =>
    Object.assign(new Error(message), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } });

  it('turns unknown resources, validation and quotas into a ProviderInputError saying what was being done', function () {
    for (const name of ['ResourceNotFoundException', 'ValidationException', 'ServiceQuotaExceededException']) {
      const classified = classifyIdentityCenterError(awsError(name, 400, 'the AWS message'), 'assigning permission set X');
      assert.ok(classified instanceof ProviderInputError, name);
      assert.match(classified.message, /assigning permission set X/);
      assert.match(classified.message, /the AWS message/);
    }
  });

  it('leaves throttling, conflicts, access problems and 5xx alone so they are retried', function () {
    for (const error of [
      awsError('ThrottlingException', 400),
      awsError('ConflictException', 409),
      awsError('AccessDeniedException', 403),
      awsError('InternalServerException', 500),
      awsError('ResourceNotFoundException', 503),
    ]) {
      assert.equal(classifyIdentityCenterError(error, 'assigning X'), error);
    }
  });
});
