/**
 * The AWS IAM provider against a real moto server: every kind through its whole life (inspect, grant,
 * read back, revoke, each repeated), principal look-up, input errors, error classification, and one
 * suite where moto enforces IAM so a grant is shown to actually let the user do something.
 */
import assert from 'node:assert/strict';
import {
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  IAMClient,
  ListRolesCommand,
  ListUsersCommand,
  PutGroupPolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  TagUserCommand,
  UntagUserCommand,
  GetUserCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  DeleteUserPolicyCommand,
  PutRolePolicyCommand,
  CreateUserCommand,
  DeleteUserCommand,
  AddUserToGroupCommand,
  type SimulatePrincipalPolicyCommandInput,
} from '@aws-sdk/client-iam';
import { PrincipalUnconfirmedError, ProviderInputError, StepMemo, type GrantSpec } from '../providers/provider';
import { classifyAwsError } from '../providers/aws/errors';
import { revokedSessionsPolicyName } from '../providers/aws/roleGrantPolicy';
import { AwsIamProvider, createAwsIamProvider } from '../providers/aws/iamProvider';
import { holdings, inlinePolicyDocument } from './support/iam';
import { bootstrapAdmin, createIamUser, iamClientFor, MOTO_ADMIN_BOOTSTRAP_CALLS, MOTO_AWS_SETTINGS, type RunningMoto, startMoto } from './support/moto';

const SETTINGS = MOTO_AWS_SETTINGS;

const ACCOUNT = '123456789012';
const NOT_AFTER = '2030-01-01T00:00:00.000Z';
const ALLOW_ALL_STS = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});

let sequence = 0;
function newEmail(label = 'user'): string {
  sequence += 1;
  return `${label}-${sequence}@example.com`;
}

function specFor(kind: string, target: string, principal: string): GrantSpec {
  sequence += 1;
  return { requestId: `req-${sequence}`, provider: 'aws', resource: 'default', scope: {}, kind, target, principal, notAfter: NOT_AFTER };
}

function policyDocument(action: string): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });
}

/** Asserts a ProviderInputError whose message mentions every one of `words`. */
async function rejectsAsInput(call: Promise<unknown>, ...words: string[]): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ProviderInputError, `expected a ProviderInputError, got ${String(error)}`);
    for (const word of words) assert.ok(error.message.includes(word), `"${error.message}" should mention ${word}`);
    return true;
  });
}

describe('AwsIamProvider (moto)', function () {
  let moto: RunningMoto;
  let iam: IAMClient;
  let provider: AwsIamProvider;

  before(async function () {
    moto = await startMoto();
    iam = iamClientFor(moto.endpoint);
    provider = new AwsIamProvider({ iam, settings: SETTINGS });
    await iam.send(new CreateRoleCommand({ RoleName: 'AdminRole', AssumeRolePolicyDocument: ALLOW_ALL_STS }));
    await iam.send(new CreateGroupCommand({ GroupName: 'Developers' }));
    await iam.send(new CreatePolicyCommand({ PolicyName: 'TeamReadOnly', PolicyDocument: policyDocument('s3:Get*') }));
  });

  after(async function () {
    iam?.destroy();
    await moto?.stop();
  });

  const lifecycles: Array<{ title: string; kind: string; target: string; key: (userName: string, spec: GrantSpec) => string }> = [
    { title: 'role', kind: 'role', target: 'AdminRole', key: (user, spec) => `aws:user/${user}:inline/p0-${spec.requestId}` },
    {
      title: 'customer-managed policy by name',
      kind: 'policy',
      target: 'TeamReadOnly',
      key: (user) => `aws:user/${user}:policy/arn:aws:iam::${ACCOUNT}:policy/TeamReadOnly`,
    },
    {
      title: 'customer-managed policy by ARN',
      kind: 'policy',
      target: `arn:aws:iam::${ACCOUNT}:policy/TeamReadOnly`,
      key: (user) => `aws:user/${user}:policy/arn:aws:iam::${ACCOUNT}:policy/TeamReadOnly`,
    },
    {
      title: 'AWS-managed policy by name',
      kind: 'policy',
      target: 'ReadOnlyAccess',
      key: (user) => `aws:user/${user}:policy/arn:aws:iam::aws:policy/ReadOnlyAccess`,
    },
    {
      title: 'AWS-managed policy by ARN',
      kind: 'policy',
      target: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      key: (user) => `aws:user/${user}:policy/arn:aws:iam::aws:policy/ReadOnlyAccess`,
    },
    { title: 'group', kind: 'group', target: 'Developers', key: (user) => `aws:user/${user}:group/Developers` },
  ];

  async function keyAndPresence(spec: GrantSpec): Promise<{ resourceKey: string; present: boolean }> {
    const { resourceKey, present } = await provider.inspect(spec);
    return { resourceKey, present };
  }

  for (const { title, kind, target, key } of lifecycles) {
    it(`${title}: inspect, grant, read back and revoke, each idempotent`, async function () {
      const email = newEmail(kind);
      const userName = await createIamUser(iam, email);
      const spec = specFor(kind, target, email);

      assert.deepEqual(await keyAndPresence(spec), { resourceKey: key(userName, spec), present: false });
      assert.equal(await provider.isGranted(spec), false);

      await provider.grant(spec);
      assert.equal(await provider.isGranted(spec), true);
      assert.deepEqual(await keyAndPresence(spec), { resourceKey: key(userName, spec), present: true });
      const granted = await holdings(iam, userName);
      assert.equal(granted.inlinePolicies.length + granted.attachedPolicies.length + granted.groups.length, 1, JSON.stringify(granted));

      await provider.grant(spec);
      assert.deepEqual(await holdings(iam, userName), granted, 'granting twice must not add a second copy');
      assert.equal(await provider.isGranted(spec), true);

      await provider.revoke(spec);
      assert.equal(await provider.isGranted(spec), false);
      assert.deepEqual(await holdings(iam, userName), { inlinePolicies: [], attachedPolicies: [], groups: [] });

      await provider.revoke(spec);
      assert.equal(await provider.isGranted(spec), false);
    });
  }

  it('role grant: the inline policy allows sts:AssumeRole on the role only until notAfter, for sessions no longer than the time left, named after the requester', async function () {
    const email = newEmail('role-doc');
    const userName = await createIamUser(iam, email);
    const spec = specFor('role', 'AdminRole', email);
    await provider.grant(spec);
    const document = await inlinePolicyDocument(iam, userName, `p0-${spec.requestId}`);
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/AdminRole`;
    const sourceIdentity = { 'sts:SourceIdentity': email };
    assert.deepEqual(document.Statement, [
      {
        Sid: 'P0JitAssumeRole',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: roleArn,
        // notAfter is years away: STS's own maximum (12 h) is the cap.
        Condition: { DateLessThan: { 'aws:CurrentTime': NOT_AFTER }, NumericLessThanEquals: { 'sts:DurationSeconds': '43200' }, StringEquals: sourceIdentity },
      },
      {
        Sid: 'P0JitSetSourceIdentity',
        Effect: 'Allow',
        Action: 'sts:SetSourceIdentity',
        Resource: roleArn,
        Condition: { DateLessThan: { 'aws:CurrentTime': NOT_AFTER }, StringEquals: sourceIdentity },
      },
    ]);
  });

  it('role grant: sessions are capped to the seconds left before notAfter, and never below STS\'s 900 s minimum', async function () {
    const email = newEmail('role-cap');
    const userName = await createIamUser(iam, email);
    const durationCap = async (secondsLeft: number) => {
      const spec = { ...specFor('role', 'AdminRole', email), notAfter: new Date(Date.now() + secondsLeft * 1000).toISOString() };
      await provider.grant(spec);
      const document = await inlinePolicyDocument(iam, userName, `p0-${spec.requestId}`);
      const [allow] = document.Statement as Array<{ Condition: { NumericLessThanEquals: { 'sts:DurationSeconds': string } } }>;
      return Number(allow!.Condition.NumericLessThanEquals['sts:DurationSeconds']);
    };
    const hour = await durationCap(3600);
    assert.ok(hour <= 3600 && hour >= 3590, String(hour));
    assert.equal(await durationCap(120), 900);
  });

  describe('role sessions end with the request (p0-revoked-sessions-<hash> on the role)', function () {
    type DenyStatement = { Effect: string; Action: string; Resource: string; Condition: { StringEquals?: Record<string, string>; DateLessThan: Record<string, string> } };

    /** The role's revoked-sessions policies, by name, each with its one statement. */
    async function revokedSessions(roleName: string): Promise<Map<string, DenyStatement>> {
      const found = new Map<string, DenyStatement>();
      const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
      for (const PolicyName of PolicyNames.filter((name) => name.startsWith('p0-revoked-sessions-'))) {
        const { PolicyDocument } = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName }));
        const statements = (JSON.parse(decodeURIComponent(PolicyDocument!)) as { Statement: DenyStatement[] }).Statement;
        assert.equal(statements.length, 1, PolicyName);
        found.set(PolicyName, statements[0]!);
      }
      return found;
    }

    it('denies each requester\'s sessions issued before the end in a policy of their own; a later end replaces an earlier one', async function () {
      await iam.send(new CreateRoleCommand({ RoleName: 'SessionRole', AssumeRolePolicyDocument: ALLOW_ALL_STS, MaxSessionDuration: 3600 }));
      const alice = newEmail('alice');
      const bob = newEmail('bob');
      await createIamUser(iam, alice);
      await createIamUser(iam, bob);
      const aliceGrant = specFor('role', 'SessionRole', alice);
      const bobGrant = specFor('role', 'SessionRole', bob);
      await provider.grant(aliceGrant);
      await provider.grant(bobGrant);
      assert.deepEqual([...(await revokedSessions('SessionRole')).keys()], [], 'nothing is denied while the grants last');

      const beforeEnd = Date.now();
      await provider.revoke(aliceGrant);
      const afterEnd = Date.now();
      const first = await revokedSessions('SessionRole');
      assert.deepEqual([...first.keys()], [revokedSessionsPolicyName(alice)]);
      const entry = first.get(revokedSessionsPolicyName(alice))!;
      const endedAt = Date.parse(entry.Condition.DateLessThan['aws:TokenIssueTime']!);
      assert.deepEqual({ ...entry, Condition: { ...entry.Condition, DateLessThan: {} } }, {
        Sid: 'P0JitRevokedSessions',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceIdentity': alice }, DateLessThan: {} },
      });
      assert.ok(endedAt >= beforeEnd - 1000 && endedAt <= afterEnd + 1000, entry.Condition.DateLessThan['aws:TokenIssueTime']);

      await provider.revoke(bobGrant);
      const second = specFor('role', 'SessionRole', alice);
      await provider.grant(second);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await provider.revoke(second);
      const both = await revokedSessions('SessionRole');
      assert.deepEqual([...both.keys()].sort(), [revokedSessionsPolicyName(alice), revokedSessionsPolicyName(bob)].sort(), 'one policy per identity');
      assert.equal(both.get(revokedSessionsPolicyName(bob))!.Condition.StringEquals?.['aws:SourceIdentity'], bob);
      assert.ok(Date.parse(both.get(revokedSessionsPolicyName(alice))!.Condition.DateLessThan['aws:TokenIssueTime']!) > endedAt, 'the later end replaces the earlier one');
    });

    it('deletes other requesters\' denies older than the role\'s longest session (every session they denied has expired), and leaves the role\'s own policies', async function () {
      await iam.send(new CreateRoleCommand({ RoleName: 'PrunedRole', AssumeRolePolicyDocument: ALLOW_ALL_STS, MaxSessionDuration: 3600 }));
      const deny = (identity: string, msAgo: number) => JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:SourceIdentity': identity }, DateLessThan: { 'aws:TokenIssueTime': new Date(Date.now() - msAgo).toISOString() } } }],
      });
      await iam.send(new PutRolePolicyCommand({ RoleName: 'PrunedRole', PolicyName: revokedSessionsPolicyName('old@example.com'), PolicyDocument: deny('old@example.com', 2 * 3600_000) }));
      await iam.send(new PutRolePolicyCommand({ RoleName: 'PrunedRole', PolicyName: revokedSessionsPolicyName('recent@example.com'), PolicyDocument: deny('recent@example.com', 600_000) }));
      await iam.send(new PutRolePolicyCommand({ RoleName: 'PrunedRole', PolicyName: 'team-policy', PolicyDocument: policyDocument('s3:Get*') }));
      const email = newEmail('pruner');
      await createIamUser(iam, email);
      const spec = specFor('role', 'PrunedRole', email);
      await provider.grant(spec);
      await provider.revoke(spec);
      assert.deepEqual([...(await revokedSessions('PrunedRole')).keys()].sort(), [revokedSessionsPolicyName(email), revokedSessionsPolicyName('recent@example.com')].sort());
      const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: 'PrunedRole' }));
      assert.ok(PolicyNames.includes('team-policy'));
    });

    it('still denies the requester\'s earlier sessions when their IAM user can no longer be confirmed', async function () {
      const email = newEmail('gone-sessions');
      const userName = await createIamUser(iam, email);
      const spec = specFor('role', 'AdminRole', email);
      const { principal } = await provider.inspect(spec);
      const recorded = { ...spec, recordedPrincipal: principal };
      await provider.grant(recorded);
      await iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: `p0-${spec.requestId}` }));
      await iam.send(new DeleteUserCommand({ UserName: userName }));
      await assert.rejects(provider.revoke(recorded), PrincipalUnconfirmedError);
      const denies = await revokedSessions('AdminRole');
      assert.equal(denies.get(revokedSessionsPolicyName(email))?.Condition.StringEquals?.['aws:SourceIdentity'], email);
    });
  });

  it('role grant: an inline policy edited to no longer name the role does not count as granted', async function () {
    const email = newEmail('role-edited');
    const userName = await createIamUser(iam, email);
    const spec = specFor('role', 'AdminRole', email);
    await provider.grant(spec);
    await iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: `p0-${spec.requestId}`, PolicyDocument: policyDocument('s3:ListBucket') }));
    assert.equal(await provider.isGranted(spec), false);
    assert.equal((await provider.inspect(spec)).present, false);
  });

  it('two role requests for one user get separate inline policies; revoking one leaves the other', async function () {
    const email = newEmail('role-two');
    const userName = await createIamUser(iam, email);
    const first = specFor('role', 'AdminRole', email);
    const second = specFor('role', 'AdminRole', email);
    await provider.grant(first);
    await provider.grant(second);
    await provider.revoke(first);
    assert.equal(await provider.isGranted(first), false);
    assert.equal(await provider.isGranted(second), true);
    assert.deepEqual((await holdings(iam, userName)).inlinePolicies, [`p0-${second.requestId}`]);
  });

  describe('principal look-up', function () {
    it('finds a user by its email tag', async function () {
      const email = newEmail('by-tag');
      const userName = await createIamUser(iam, email, { tag: true });
      assert.notEqual(userName, email);
      const { resourceKey } = await provider.inspect(specFor('group', 'Developers', email));
      assert.equal(resourceKey, `aws:user/${userName}:group/Developers`);
    });

    it('finds a user named after the email', async function () {
      const email = newEmail('by-name');
      await createIamUser(iam, email, { tag: false });
      const { resourceKey } = await provider.inspect(specFor('group', 'Developers', email));
      assert.equal(resourceKey, `aws:user/${email}:group/Developers`);
    });

    it('matches the tag whatever the email case', async function () {
      const email = newEmail('MixedCase');
      const userName = await createIamUser(iam, email);
      const { resourceKey } = await provider.inspect(specFor('group', 'Developers', email.toLowerCase()));
      assert.equal(resourceKey, `aws:user/${userName}:group/Developers`);
    });

    it('uses the configured tag key', async function () {
      const email = newEmail('custom-tag');
      const userName = await createIamUser(iam, email, { emailTag: 'p0-email' });
      const custom = new AwsIamProvider({ iam, settings: { ...SETTINGS, userLookup: 'tag', emailTag: 'p0-email' } });
      assert.equal((await custom.inspect(specFor('group', 'Developers', email))).resourceKey, `aws:user/${userName}:group/Developers`);
      await rejectsAsInput(provider.inspect(specFor('group', 'Developers', email)), email);
    });

    it('lookup "tag" ignores users named after the email, lookup "name" ignores tags', async function () {
      const named = newEmail('named-only');
      await createIamUser(iam, named, { tag: false });
      const tagged = newEmail('tagged-only');
      await createIamUser(iam, tagged, { tag: true });
      const tagOnly = new AwsIamProvider({ iam, settings: { ...SETTINGS, userLookup: 'tag' } });
      const nameOnly = new AwsIamProvider({ iam, settings: { ...SETTINGS, userLookup: 'name' } });
      await rejectsAsInput(tagOnly.inspect(specFor('group', 'Developers', named)), named, 'email=');
      await rejectsAsInput(nameOnly.inspect(specFor('group', 'Developers', tagged)), tagged, 'name');
      assert.equal((await tagOnly.inspect(specFor('group', 'Developers', tagged))).present, false);
      assert.equal((await nameOnly.inspect(specFor('group', 'Developers', named))).present, false);
    });

    it('refuses an email that tags two users', async function () {
      const email = newEmail('twice');
      const first = await createIamUser(iam, email);
      const second = await createIamUser(iam, `x${email}`, { tag: false });
      await iam.send(new TagUserCommand({ UserName: second, Tags: [{ Key: 'email', Value: email }] }));
      await rejectsAsInput(provider.inspect(specFor('group', 'Developers', email)), email, first, second);
    });

    it('an unknown email is a ProviderInputError naming the email and the fix', async function () {
      const email = newEmail('nobody');
      await rejectsAsInput(provider.inspect(specFor('role', 'AdminRole', email)), email, `email=${email}`, 'name one after the address');
      await rejectsAsInput(provider.grant(specFor('role', 'AdminRole', email)), email);
    });
  });

  describe('recorded principal (resolved at grant time, used to revoke and read back)', function () {
    /** What the activities do: the principal inspect resolved rides along with every later call. */
    /** A client on the same moto that tells `seen` each command it sends (`GetUser`, ...) and its input. */
    function watchedIam(seen: (command: string, input: Record<string, unknown>) => void): IAMClient {
      const client = iamClientFor(moto.endpoint);
      client.middlewareStack.add(
        (next, context) => (args) => {
          seen((context.commandName ?? '').replace(/Command$/, ''), args.input as Record<string, unknown>);
          return next(args);
        },
        { step: 'initialize' },
      );
      return client;
    }

    async function grantRecorded(kind: string, target: string, email: string): Promise<GrantSpec> {
      const spec = specFor(kind, target, email);
      const { principal } = await provider.inspect(spec);
      const recorded = { ...spec, recordedPrincipal: principal };
      await provider.grant(recorded);
      return recorded;
    }

    it('inspect names the IAM user by name, ARN and unique id', async function () {
      const email = newEmail('recorded');
      const userName = await createIamUser(iam, email);
      const { User } = await iam.send(new GetUserCommand({ UserName: userName }));
      const { principal } = await provider.inspect(specFor('group', 'Developers', email));
      assert.deepEqual(principal, { userName, userArn: User!.Arn, userId: User!.UserId });
    });

    it('a requester who removes their own email tag still loses the grant at revoke, by the recorded user', async function () {
      for (const [kind, target] of [['group', 'Developers'], ['policy', 'TeamReadOnly'], ['role', 'AdminRole']] as const) {
        const email = newEmail(`untag-${kind}`);
        const userName = await createIamUser(iam, email);
        const spec = await grantRecorded(kind, target, email);
        await iam.send(new UntagUserCommand({ UserName: userName, TagKeys: ['email'] }));
        // Another worker (or this one a minute later): nothing cached about the user.
        const fresh = new AwsIamProvider({ iam, settings: SETTINGS });
        assert.equal(await fresh.isGranted(spec), true, `${kind}: the recorded user still holds it`);
        await fresh.revoke(spec);
        assert.equal(await fresh.isGranted(spec), false);
        assert.deepEqual(await holdings(iam, userName), { inlinePolicies: [], attachedPolicies: [], groups: [] }, kind);
      }
    });

    it('a second user tagged with the same email neither blocks the revoke nor loses anything', async function () {
      const email = newEmail('second-tag');
      const original = await createIamUser(iam, email);
      const spec = await grantRecorded('group', 'Developers', email);
      const impostor = await createIamUser(iam, `x${email}`, { tag: false });
      await iam.send(new TagUserCommand({ UserName: impostor, Tags: [{ Key: 'email', Value: email }] }));
      await iam.send(new AddUserToGroupCommand({ UserName: impostor, GroupName: 'Developers' }));

      const fresh = new AwsIamProvider({ iam, settings: SETTINGS });
      await fresh.revoke(spec);
      assert.equal(await fresh.isGranted(spec), false);
      assert.deepEqual((await holdings(iam, original)).groups, []);
      assert.deepEqual((await holdings(iam, impostor)).groups, ['Developers'], 'the other user is not touched');
    });

    it('grants to the recorded user, not to whoever carries the tag by then', async function () {
      const email = newEmail('moved-tag');
      const original = await createIamUser(iam, email);
      const spec = specFor('group', 'Developers', email);
      const { principal } = await provider.inspect(spec);
      await iam.send(new UntagUserCommand({ UserName: original, TagKeys: ['email'] }));
      const other = await createIamUser(iam, `y${email}`, { tag: false });
      await iam.send(new TagUserCommand({ UserName: other, Tags: [{ Key: 'email', Value: email }] }));
      await new AwsIamProvider({ iam, settings: SETTINGS }).grant({ ...spec, recordedPrincipal: principal });
      assert.deepEqual((await holdings(iam, original)).groups, ['Developers']);
      assert.deepEqual((await holdings(iam, other)).groups, []);
    });

    it('a recorded user that was deleted, or replaced by a new user of the same name, is unconfirmed, never removed', async function () {
      const email = newEmail('vanished');
      const userName = await createIamUser(iam, email);
      const spec = await grantRecorded('group', 'Developers', email);
      // IAM deletes a user only once it holds nothing.
      await iam.send(new RemoveUserFromGroupCommand({ UserName: userName, GroupName: 'Developers' }));
      await iam.send(new DeleteUserCommand({ UserName: userName }));
      await assert.rejects(provider.revoke(spec), (error: unknown) => {
        assert.ok(error instanceof PrincipalUnconfirmedError, String(error));
        assert.match(error.message, new RegExp(`IAM user ${userName} .*no longer exists`));
        return true;
      });
      assert.equal(await provider.isGranted(spec), false, 'a deleted user holds nothing');

      // Same name again: another person's user, which the revoke must not touch.
      await iam.send(new CreateUserCommand({ UserName: userName }));
      await iam.send(new AddUserToGroupCommand({ UserName: userName, GroupName: 'Developers' }));
      await assert.rejects(provider.revoke(spec), (error: unknown) => {
        assert.ok(error instanceof PrincipalUnconfirmedError, String(error));
        assert.match(error.message, /a different user now has the name/);
        return true;
      });
      assert.deepEqual((await holdings(iam, userName)).groups, ['Developers'], 'the new user keeps its membership');
      assert.equal(await provider.isGranted(spec), false, 'the recorded user is gone: it holds nothing');
    });

    it('the calls of one step confirm the recorded user once (StepMemo); calls without one, and later steps, confirm afresh', async function () {
      const email = newEmail('one-confirm');
      const userName = await createIamUser(iam, email);
      const getUsers: string[] = [];
      const counting = watchedIam((command, input) => {
        if (command === 'GetUser') getUsers.push(String(input.UserName));
      });
      try {
        const counted = new AwsIamProvider({ iam: counting, settings: SETTINGS });
        const spec = await grantRecorded('group', 'Developers', email);
        const provisionStep = new StepMemo();
        await counted.grant(spec, provisionStep);
        assert.equal(await counted.isGranted(spec, provisionStep), true);
        assert.deepEqual(getUsers, [userName], 'a grant and its read-back: one GetUser');

        const revokeStep = new StepMemo();
        await counted.revoke(spec, revokeStep);
        assert.equal(await counted.isGranted(spec, revokeStep), false);
        assert.deepEqual(getUsers, [userName, userName], 'the next step confirms again, once');

        await counted.isGranted(spec);
        await counted.isGranted(spec);
        assert.equal(getUsers.length, 4, 'without a memo every call confirms');

        // A step whose user was replaced after an earlier step confirmed it still finds out.
        await iam.send(new DeleteUserCommand({ UserName: userName }));
        await iam.send(new CreateUserCommand({ UserName: userName }));
        await assert.rejects(counted.revoke(spec, new StepMemo()), PrincipalUnconfirmedError);
      } finally {
        counting.destroy();
      }
    });

    it("a first grant whose look-up confirmed the user reads it once: the confirmation is the step's", async function () {
      const email = newEmail('first-grant');
      const userName = await createIamUser(iam, email);
      const callsOnUser: string[] = [];
      const counting = watchedIam((command, input) => {
        if (input.UserName === userName) callsOnUser.push(command);
      });
      try {
        // confirmAfter 0: every user the index finds is read again (GetUser) before it is used.
        const counted = new AwsIamProvider({ iam: counting, settings: { ...SETTINGS, userIndex: { confirmAfterMs: 0, refreshAfterMs: 600_000, maxStaleMs: 900_000 } } });
        await counted.inspect(specFor('group', 'Developers', newEmail('someone-else'))).catch(() => undefined); // builds the index
        callsOnUser.length = 0;
        const spec = specFor('group', 'Developers', email);
        const step = new StepMemo();
        const { principal } = await counted.inspect(spec, step);
        const granted = { ...spec, recordedPrincipal: principal };
        await counted.grant(granted, step);
        assert.equal(await counted.isGranted(granted, step), true);
        assert.deepEqual(callsOnUser, ['GetUser', 'ListGroupsForUser', 'AddUserToGroup', 'ListGroupsForUser'], 'one GetUser: the look-up\'s, reused by the grant and its read-back');
        await counted.revoke(granted, new StepMemo());
      } finally {
        counting.destroy();
      }
    });

    it('a grant recorded before principals were (no recordedPrincipal) is looked up; an ambiguous look-up is unconfirmed', async function () {
      const email = newEmail('legacy');
      const userName = await createIamUser(iam, email);
      const spec = specFor('group', 'Developers', email);
      await provider.grant(spec);
      const second = await createIamUser(iam, `z${email}`, { tag: false });
      await iam.send(new TagUserCommand({ UserName: second, Tags: [{ Key: 'email', Value: email }] }));
      const fresh = new AwsIamProvider({ iam, settings: SETTINGS });
      await assert.rejects(fresh.revoke(spec), (error: unknown) => {
        assert.ok(error instanceof PrincipalUnconfirmedError, String(error));
        assert.ok(error.message.includes(userName) && error.message.includes(second), error.message);
        return true;
      });
    });
  });

  describe('bad input', function () {
    let email: string;
    before(async function () {
      email = newEmail('bad-input');
      await createIamUser(iam, email);
    });

    it('an unknown role, group or policy is a ProviderInputError naming it', async function () {
      await rejectsAsInput(provider.inspect(specFor('role', 'NoSuchRole', email)), 'NoSuchRole');
      await rejectsAsInput(provider.grant(specFor('role', 'NoSuchRole', email)), 'NoSuchRole');
      await rejectsAsInput(provider.inspect(specFor('group', 'NoSuchGroup', email)), 'NoSuchGroup');
      await rejectsAsInput(provider.inspect(specFor('policy', 'NoSuchPolicy', email)), 'NoSuchPolicy');
      const missingArn = `arn:aws:iam::${ACCOUNT}:policy/NoSuchPolicy`;
      await rejectsAsInput(provider.grant(specFor('policy', missingArn, email)), missingArn);
    });

    it('an unknown kind is a ProviderInputError', async function () {
      await rejectsAsInput(provider.inspect(specFor('bucket', 'AdminRole', email)), 'bucket', 'role, policy, group');
    });

    it('clean-up after such a failure works: revoke succeeds and isGranted is false', async function () {
      // The workflow removes and re-reads the grant after every failed provision, this one included.
      const nobody = newEmail('nobody');
      for (const spec of [
        specFor('role', 'NoSuchRole', email),
        specFor('group', 'NoSuchGroup', email),
        specFor('policy', 'NoSuchPolicy', email),
        specFor('policy', `arn:aws:iam::${ACCOUNT}:policy/NoSuchPolicy`, email),
        specFor('group', 'Developers', nobody),
        specFor('role', 'AdminRole', nobody),
      ]) {
        await provider.revoke(spec);
        assert.equal(await provider.isGranted(spec), false, `${spec.kind} ${spec.target} for ${spec.principal}`);
      }
    });

    it('a role grant whose role was deleted still reads back and is removed', async function () {
      await iam.send(new CreateRoleCommand({ RoleName: 'ShortLivedRole', AssumeRolePolicyDocument: ALLOW_ALL_STS }));
      const spec = specFor('role', 'ShortLivedRole', email);
      await provider.grant(spec);
      await iam.send(new DeleteRoleCommand({ RoleName: 'ShortLivedRole' }));
      // A fresh provider: the shared one remembers the role for a minute.
      const fresh = new AwsIamProvider({ iam, settings: SETTINGS });
      assert.equal(await fresh.isGranted(spec), true);
      await rejectsAsInput(fresh.grant(spec), 'ShortLivedRole');
      await fresh.revoke(spec);
      assert.equal(await fresh.isGranted(spec), false);
    });
  });

  describe('simulatePrincipalPolicy (moto has no simulator, so its answer is stubbed)', function () {
    let simulated: SimulatePrincipalPolicyCommandInput[];
    let decision: string;
    let simulating: AwsIamProvider;
    let stubbed: IAMClient;

    before(function () {
      stubbed = iamClientFor(moto.endpoint);
      // Answers SimulatePrincipalPolicy before it is sent; every other call goes to moto.
      stubbed.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'SimulatePrincipalPolicyCommand') return next(args);
          simulated.push(args.input as SimulatePrincipalPolicyCommandInput);
          return { output: { EvaluationResults: [{ EvalActionName: 'sts:AssumeRole', EvalDecision: decision }], $metadata: {} }, response: {} };
        },
        { step: 'initialize', name: 'stubSimulator' },
      );
      simulating = new AwsIamProvider({ iam: stubbed, settings: { ...SETTINGS, simulatePrincipalPolicy: true } });
    });
    beforeEach(function () {
      simulated = [];
    });
    after(function () {
      stubbed.destroy();
    });

    it('a role grant also needs the simulator to say allowed', async function () {
      const email = newEmail('simulated');
      const userName = await createIamUser(iam, email);
      const spec = specFor('role', 'AdminRole', email);
      await simulating.grant(spec);
      decision = 'implicitDeny';
      assert.equal(await simulating.isGranted(spec), false);
      decision = 'allowed';
      assert.equal(await simulating.isGranted(spec), true);
      assert.equal(simulated.length, 2);
      const input = simulated[0]!;
      assert.equal(input.PolicySourceArn, `arn:aws:iam::${ACCOUNT}:user/${userName}`);
      assert.deepEqual(input.ActionNames, ['sts:AssumeRole']);
      assert.deepEqual(input.ResourceArns, [`arn:aws:iam::${ACCOUNT}:role/AdminRole`]);
      assert.equal(input.ContextEntries?.[0]?.ContextKeyName, 'aws:CurrentTime');
      // The grant's other conditions: without these keys the simulator would answer implicitDeny.
      assert.deepEqual(
        input.ContextEntries?.slice(1).map(({ ContextKeyName, ContextKeyType, ContextKeyValues }) => ({ ContextKeyName, ContextKeyType, ContextKeyValues })),
        [
          { ContextKeyName: 'sts:SourceIdentity', ContextKeyType: 'string', ContextKeyValues: [spec.principal] },
          { ContextKeyName: 'sts:DurationSeconds', ContextKeyType: 'numeric', ContextKeyValues: ['900'] },
        ],
      );
    });

    it('is not consulted before the grant exists, nor for groups and policies', async function () {
      const email = newEmail('not-simulated');
      await createIamUser(iam, email);
      decision = 'allowed';
      assert.equal(await simulating.isGranted(specFor('role', 'AdminRole', email)), false);
      const group = specFor('group', 'Developers', email);
      await simulating.grant(group);
      assert.equal(await simulating.isGranted(group), true);
      assert.equal(simulated.length, 0);
    });
  });

  it('createAwsIamProvider takes the endpoint and credentials from the SDK environment', async function () {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    });
    try {
      const fromEnv = createAwsIamProvider(SETTINGS);
      const email = newEmail('from-env');
      await createIamUser(iam, email);
      const spec = specFor('group', 'Developers', email);
      await fromEnv.grant(spec);
      assert.equal(await provider.isGranted(spec), true);
    } finally {
      for (const name of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});

describe('classifyAwsError', function () {
  const awsError = (name: string, httpStatusCode: number, message = 'details') =>
    Object.assign(new Error(message), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } });

  it('leaves throttling, 5xx, access problems and network errors alone so they are retried', function () {
    for (const error of [
      awsError('Throttling', 400),
      awsError('ServiceUnavailable', 503),
      awsError('ServiceFailureException', 500),
      awsError('NoSuchEntityException', 503),
      awsError('AccessDenied', 403),
      awsError('ConcurrentModificationException', 409),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      { $metadata: { httpStatusCode: 503 } },
    ]) {
      assert.equal(classifyAwsError(error, 'granting X'), error);
    }
  });

  it('turns input errors into a ProviderInputError that says what was being done', function () {
    for (const name of [
      'NoSuchEntityException',
      'NoSuchEntity',
      'ValidationError',
      'InvalidInputException',
      'MalformedPolicyDocumentException',
      'LimitExceededException',
      'UnmodifiableEntityException',
      'PolicyNotAttachableException',
    ]) {
      const classified = classifyAwsError(awsError(name, 400, 'the AWS message'), 'granting group Developers');
      assert.ok(classified instanceof ProviderInputError, name);
      assert.match(classified.message, /granting group Developers/);
      assert.match(classified.message, /the AWS message/);
    }
  });

  it('passes a ProviderInputError through', function () {
    const error = new ProviderInputError('No IAM role named X');
    assert.equal(classifyAwsError(error, 'anything'), error);
  });
});

describe('AwsIamProvider grants are enforced (moto with IAM authorization on)', function () {
  let moto: RunningMoto;
  let admin: IAMClient;
  let provider: AwsIamProvider;

  before(async function () {
    moto = await startMoto({ initialNoAuthActionCount: MOTO_ADMIN_BOOTSTRAP_CALLS });
    // Everything after the bootstrap, setup included, is signed by an admin user moto knows.
    admin = iamClientFor(moto.endpoint, await bootstrapAdmin(moto.endpoint));
    provider = new AwsIamProvider({ iam: admin, settings: SETTINGS });
    await admin.send(new CreateGroupCommand({ GroupName: 'UserListers' }));
    await admin.send(new PutGroupPolicyCommand({ GroupName: 'UserListers', PolicyName: 'list-users', PolicyDocument: policyDocument('iam:ListUsers') }));
    await admin.send(new CreatePolicyCommand({ PolicyName: 'RoleListers', PolicyDocument: policyDocument('iam:ListRoles') }));
  });

  after(async function () {
    admin?.destroy();
    await moto?.stop();
  });

  /** A requester with IAM access keys of their own, and a client that signs with them. */
  async function requesterWithKeys(label: string): Promise<{ email: string; own: IAMClient }> {
    const email = newEmail(label);
    const userName = await createIamUser(admin, email);
    const { AccessKey } = await admin.send(new CreateAccessKeyCommand({ UserName: userName }));
    const own = iamClientFor(moto.endpoint, { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! });
    return { email, own };
  }

  const denied = (error: unknown) => /^AccessDenied/.test((error as Error).name);

  it('moto really enforces: unknown keys are refused', async function () {
    const stranger = iamClientFor(moto.endpoint);
    await assert.rejects(stranger.send(new ListUsersCommand({})), (error: Error) => /InvalidClientTokenId/.test(error.name));
    stranger.destroy();
  });

  it('a group grant lets the user act only while it is in place', async function () {
    const { email, own } = await requesterWithKeys('enforced-group');
    const spec = specFor('group', 'UserListers', email);
    await assert.rejects(own.send(new ListUsersCommand({})), denied);
    await provider.grant(spec);
    await own.send(new ListUsersCommand({}));
    await provider.revoke(spec);
    await assert.rejects(own.send(new ListUsersCommand({})), denied);
    own.destroy();
  });

  it('a managed-policy grant lets the user act only while it is in place', async function () {
    const { email, own } = await requesterWithKeys('enforced-policy');
    const spec = specFor('policy', 'RoleListers', email);
    await assert.rejects(own.send(new ListRolesCommand({})), denied);
    await provider.grant(spec);
    await own.send(new ListRolesCommand({}));
    // The policy grants ListRoles, not ListUsers: the user has exactly what was granted.
    await assert.rejects(own.send(new ListUsersCommand({})), denied);
    await provider.revoke(spec);
    await assert.rejects(own.send(new ListRolesCommand({})), denied);
    own.destroy();
  });
});
