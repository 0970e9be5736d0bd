/**
 * The IAM user look-up by email tag (providers/aws/userDirectory.ts) on an account of many users
 * while IAM fails: moto behind the fault proxy, which answers 30% of ListUsers and ListUserTags calls
 * with throttling, 503 or a 500 after the call was served. Every look-up must still find the right
 * user, detect two users carrying one email, and answer "no such user" only when every user was read.
 */
import assert from 'node:assert/strict';
import { CreateGroupCommand, CreateUserCommand, GetUserCommand, ListUsersCommand, ListUserTagsCommand, PutUserPolicyCommand, TagUserCommand, type IAMClient } from '@aws-sdk/client-iam';
import { PrincipalUnconfirmedError, ProviderInputError, type GrantSpec } from '../providers/provider';
import type { UserLookup } from '../providers/aws/catalog';
import { AwsIamProvider } from '../providers/aws/iamProvider';
import { IamUserDirectory, TagIndexIncompleteError, TagIndexPendingError } from '../providers/aws/userDirectory';
import { FaultProxy } from './support/faultProxy';
import { createTaggedUsers } from './support/iam';
import { iamClientFor, MOTO_AWS_SETTINGS, type RunningMoto, startMoto } from './support/moto';

const SETTINGS = MOTO_AWS_SETTINGS;
/** Enough that today's all-or-nothing scan practically never survives 30% faults; `P0_LOOKUP_USERS` raises it. */
const USERS = Number(process.env.P0_LOOKUP_USERS ?? 200);
const FAULT_RATE = 0.3;
const ALLOW_NOTHING = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] });

let sequence = 0;
function specFor(email: string): GrantSpec {
  sequence += 1;
  return { requestId: `lookup-${sequence}`, provider: 'aws', resource: 'default', scope: {}, kind: 'group', target: 'Developers', principal: email, notAfter: '2030-01-01T00:00:00.000Z' };
}

describe(`IAM user look-up by email tag: ${USERS} users, ${FAULT_RATE * 100}% of ListUsers/ListUserTags failing`, function () {
  this.timeout(5 * 60_000);
  let moto: RunningMoto;
  /** Straight to moto, for the setup. */
  let direct: IAMClient;
  /** Through the fault proxy, for the provider. */
  let faulty: IAMClient;
  let proxy: FaultProxy;

  before(async function () {
    moto = await startMoto();
    direct = iamClientFor(moto.endpoint);
    await direct.send(new CreateGroupCommand({ GroupName: 'Developers' }));
    const tookMs = await createTaggedUsers(direct, 'staff', USERS);
    console.log(`      (${USERS} users created in ${tookMs} ms)`);
    await direct.send(new CreateUserCommand({ UserName: 'twin-a', Tags: [{ Key: 'email', Value: 'twin@example.com' }] }));
    await direct.send(new CreateUserCommand({ UserName: 'twin-b', Tags: [{ Key: 'email', Value: 'TWIN@example.com' }] }));
    proxy = await FaultProxy.start({ dialect: 'aws', upstream: moto.endpoint, rate: FAULT_RATE, seed: Number(process.env.P0_FAULT_SEED ?? 17), operations: ['ListUsers', 'ListUserTags'] });
    faulty = iamClientFor(proxy.url);
  });

  after(async function () {
    faulty?.destroy();
    direct?.destroy();
    await proxy?.stop();
    await moto?.stop();
  });

  it('finds each user, refuses an ambiguous email, and says "no such user" only for a real miss', async function () {
    const provider = new AwsIamProvider({ iam: faulty, settings: SETTINGS });
    const startedAt = Date.now();
    for (const index of [0, Math.floor(USERS / 2), USERS - 1]) {
      const { principal } = await provider.inspect(specFor(`staff-${index}@example.com`));
      assert.equal(principal.userName, `staff-${index}`);
    }
    const firstLookups = Date.now() - startedAt;

    // Tagged after the index was built: a miss looks again, in a scan under the same faults.
    await direct.send(new CreateUserCommand({ UserName: 'late-joiner' }));
    await direct.send(new TagUserCommand({ UserName: 'late-joiner', Tags: [{ Key: 'email', Value: 'late@example.com' }] }));
    assert.equal((await provider.inspect(specFor('late@example.com'))).principal.userName, 'late-joiner');

    await assert.rejects(provider.inspect(specFor('twin@example.com')), (error: unknown) => {
      assert.ok(error instanceof PrincipalUnconfirmedError, String(error));
      assert.match(error.message, /twin-a.*twin-b|twin-b.*twin-a/);
      return true;
    });
    await assert.rejects(provider.inspect(specFor('nobody@example.com')), (error: unknown) => {
      assert.ok(error instanceof ProviderInputError && !(error instanceof PrincipalUnconfirmedError), String(error));
      assert.match(error.message, /No IAM user for nobody@example.com/);
      return true;
    });

    const tagReads = proxy.callsOf('ListUserTags');
    const failed = tagReads.filter((call) => call.fault).length;
    console.log(`      (first three look-ups ${firstLookups} ms; ${tagReads.length} ListUserTags calls, ${failed} failed; ${JSON.stringify(proxy.faultCounts())})`);
    assert.ok(failed > USERS * FAULT_RATE * 0.5, `faults really hit the scan: ${failed} of ${tagReads.length}`);
  });

  it('a grant with a recorded principal is granted, read back and revoked without any scan', async function () {
    const spec = specFor('staff-7@example.com');
    const { principal } = await new AwsIamProvider({ iam: direct, settings: SETTINGS }).inspect(spec);
    const recorded = { ...spec, recordedPrincipal: principal };
    // Another worker: no index, no cache.
    const provider = new AwsIamProvider({ iam: faulty, settings: SETTINGS });
    const scanCallsBefore = proxy.callsOf('ListUsers').length + proxy.callsOf('ListUserTags').length;
    await provider.grant(recorded);
    assert.equal(await provider.isGranted(recorded), true);
    await provider.revoke(recorded);
    assert.equal(await provider.isGranted(recorded), false);
    assert.equal(proxy.callsOf('ListUsers').length + proxy.callsOf('ListUserTags').length, scanCallsBefore);
  });

  it('the reconciler\'s listing of marked inline policies also survives 30% of ListUsers/ListUserPolicies failing', async function () {
    await direct.send(new PutUserPolicyCommand({ UserName: 'staff-1', PolicyName: 'p0-req-marked-1', PolicyDocument: ALLOW_NOTHING }));
    await direct.send(new PutUserPolicyCommand({ UserName: `staff-${USERS - 2}`, PolicyName: 'p0-req-marked-2', PolicyDocument: ALLOW_NOTHING }));
    const listing = await FaultProxy.start({ dialect: 'aws', upstream: moto.endpoint, rate: FAULT_RATE, seed: 5, operations: ['ListUsers', 'ListUserPolicies'] });
    const iam = iamClientFor(listing.url);
    try {
      const marked = await new AwsIamProvider({ iam, settings: SETTINGS }).listMarked();
      assert.deepEqual(marked.map((grant) => grant.ref).sort((a, b) => a.policyName!.localeCompare(b.policyName!)), [
        { userName: 'staff-1', policyName: 'p0-req-marked-1' },
        { userName: `staff-${USERS - 2}`, policyName: 'p0-req-marked-2' },
      ]);
      assert.ok(listing.callsOf('ListUserPolicies').filter((call) => call.fault).length > USERS * FAULT_RATE * 0.5, 'faults hit the listing');
    } finally {
      iam.destroy();
      await listing.stop();
    }
  });
});

/**
 * The same look-up against a scripted IAM (no moto): which reads fail is chosen per user, and the
 * clock is the test's, so what a partial scan may and may not conclude is pinned down exactly.
 */
describe('IAM user look-up by email tag: partial scans', function () {
  interface FakeUser {
    name: string;
    email?: string;
    /** ListUserTags of this user fails this many more times (Infinity: always). */
    failures?: number;
    /** With this error code (a 400) instead of a 503. */
    failsWith?: string;
    /** Its unique id (default AIDA<NAME>): a new user under the same name has another. */
    id?: string;
  }

  function fakeIam(users: FakeUser[], { tagReadMs = 0, listing = Promise.resolve() }: { tagReadMs?: number; listing?: Promise<void> } = {}): { iam: IAMClient; tagReads: Map<string, number>; listCalls: () => number } {
    const tagReads = new Map<string, number>();
    let listCalls = 0;
    const send = async (command: object): Promise<unknown> => {
      await Promise.resolve(); // an answer comes later, as from the network
      if (command instanceof ListUsersCommand) {
        listCalls += 1;
        await listing;
        return { Users: users.map((user) => ({ UserName: user.name, Arn: `arn:aws:iam::123456789012:user/${user.name}`, UserId: user.id ?? `AIDA${user.name.toUpperCase()}` })), IsTruncated: false };
      }
      if (command instanceof ListUserTagsCommand) {
        await new Promise((resolve) => setTimeout(resolve, tagReadMs));
        const user = users.find((candidate) => candidate.name === command.input.UserName)!;
        tagReads.set(user.name, (tagReads.get(user.name) ?? 0) + 1);
        if ((user.failures ?? 0) > 0) {
          user.failures! -= 1;
          if (user.failsWith) throw Object.assign(new Error(`refused: ${user.failsWith}`), { name: user.failsWith, $metadata: { httpStatusCode: 400 } });
          throw Object.assign(new Error('Service is unable to handle request.'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
        }
        return { Tags: user.email ? [{ Key: 'email', Value: user.email }] : [] };
      }
      if (command instanceof GetUserCommand) {
        const user = users.find((candidate) => candidate.name === command.input.UserName);
        if (!user) throw Object.assign(new Error('no such user'), { name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } });
        // GetUser answers with the user's tags too: the index confirms a user it found this way.
        tagReads.set(user.name, (tagReads.get(user.name) ?? 0) + 1);
        if ((user.failures ?? 0) > 0) {
          user.failures! -= 1;
          throw Object.assign(new Error('Service is unable to handle request.'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
        }
        return {
          User: { UserName: user.name, Arn: `arn:aws:iam::123456789012:user/${user.name}`, UserId: user.id ?? `AIDA${user.name.toUpperCase()}`, Tags: user.email ? [{ Key: 'email', Value: user.email }] : [] },
        };
      }
      throw new Error(`unexpected ${command.constructor.name}`);
    };
    return { iam: { send } as unknown as IAMClient, tagReads, listCalls: () => listCalls };
  }

  let clock = 0;
  const CONFIRM_AFTER_MS = 60_000;
  const REFRESH_AFTER_MS = 10 * 60_000;
  const MAX_STALE_MS = 15 * 60_000;
  function directory(iam: IAMClient, { lookup = 'tag-then-name', waitLimitMs }: { lookup?: UserLookup; waitLimitMs?: number } = {}): IamUserDirectory {
    // cacheTtlMs 0: every look-up goes to the index, whose clock is `clock`.
    return new IamUserDirectory(iam, { lookup, emailTag: 'email', cacheTtlMs: 0, tagIndex: { confirmAfterMs: CONFIRM_AFTER_MS, refreshAfterMs: REFRESH_AFTER_MS, maxStaleMs: MAX_STALE_MS, retryDelaysMs: [1, 1, 1], waitLimitMs, now: () => clock } });
  }

  function isIncomplete(...unread: string[]) {
    return (error: unknown) => {
      assert.ok(error instanceof TagIndexIncompleteError, `expected TagIndexIncompleteError, got ${String(error)}`);
      assert.ok(!(error instanceof ProviderInputError), 'retried, never final');
      for (const name of unread) assert.ok(error.message.includes(name), `${error.message} should name ${name}`);
      return true;
    };
  }

  beforeEach(() => {
    clock = 1_000_000;
  });

  it('retries a failed read on its own: other users are read once', async function () {
    const { iam, tagReads, listCalls } = fakeIam([{ name: 'ann', email: 'ann@example.com', failures: 3 }, { name: 'bob', email: 'bob@example.com' }, { name: 'cy' }]);
    assert.equal((await directory(iam).find('ann@example.com'))?.name, 'ann');
    assert.deepEqual(Object.fromEntries(tagReads), { ann: 4, bob: 1, cy: 1 });
    assert.equal(listCalls(), 1);
  });

  it('a user whose tags cannot be read is never guessed around: no "no such user", no pick, no name look-up', async function () {
    const { iam } = fakeIam([
      { name: 'ann', email: 'ann@example.com' },
      { name: 'mallory', failures: Infinity },
      // Named after an address: the name look-up would find it, were the tag look-up's "none" believed.
      { name: 'nobody@example.com' },
    ]);
    const users = directory(iam);
    // mallory might carry ann's email too: ann is not confirmed unique.
    await assert.rejects(users.find('ann@example.com'), isIncomplete('mallory', 'ServiceUnavailable'));
    await assert.rejects(users.find('nobody@example.com'), isIncomplete('mallory'));
    await assert.rejects(users.resolve('someone@example.com'), isIncomplete('mallory'));
  });

  it('a read refused as bad input (not retried) still leaves its user unread, whatever the retries of others do', async function () {
    const { iam, tagReads } = fakeIam([{ name: 'ann', email: 'ann@example.com', failures: 1 }, { name: 'odd', failures: Infinity, failsWith: 'InvalidInput' }]);
    await assert.rejects(directory(iam).find('ann@example.com'), isIncomplete('odd', 'InvalidInput'));
    assert.equal(tagReads.get('odd'), 1, 'bad input is not retried');
  });

  it('two users carrying the email are ambiguous even while another is unread', async function () {
    const { iam } = fakeIam([{ name: 'twin-a', email: 'twin@example.com' }, { name: 'twin-b', email: 'Twin@Example.com' }, { name: 'mallory', failures: Infinity }]);
    await assert.rejects(directory(iam).find('twin@example.com'), (error: unknown) => {
      assert.ok(error instanceof PrincipalUnconfirmedError, String(error));
      assert.match(error.message, /twin-a, twin-b/);
      return true;
    });
  });

  it('keeps what an earlier scan read of a user it cannot read now, until that read is older than maxStale', async function () {
    const fake = [{ name: 'ann', email: 'ann@example.com' } as FakeUser, { name: 'bob', email: 'bob@example.com' } as FakeUser];
    const { iam } = fakeIam(fake);
    const users = directory(iam);
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    // From now on bob cannot be read; a miss forces a new scan.
    fake[1]!.failures = Infinity;
    fake.push({ name: 'cy', email: 'cy@example.com' });
    clock += 1_000;
    assert.equal((await users.find('cy@example.com'))?.name, 'cy', "bob's earlier read still counts");
    assert.equal((await users.find('bob@example.com'))?.name, 'bob');
    clock += MAX_STALE_MS;
    await assert.rejects(users.find('ann@example.com'), isIncomplete('bob'));
  });

  it('serves a stale index at once and refreshes it in the background; a miss waits for a new scan', async function () {
    const fake: FakeUser[] = [{ name: 'ann', email: 'ann@example.com' }, { name: 'bob', email: 'bob@example.com' }];
    const { iam, listCalls, tagReads } = fakeIam(fake);
    const users = directory(iam);
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    assert.equal(listCalls(), 1);
    clock += 1_000;
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    assert.equal(listCalls(), 1, 'a fresh index: no scan');

    // Past confirmAfter, a user found is read again on its own before it is served: one call, no scan.
    clock += CONFIRM_AFTER_MS;
    assert.equal((await users.find('bob@example.com'))?.name, 'bob');
    assert.deepEqual(Object.fromEntries(tagReads), { ann: 1, bob: 2 }, 'only bob read again');
    assert.equal(listCalls(), 1, 'no scan before refreshAfter');
    assert.equal((await users.find('bob@example.com'))?.name, 'bob');
    assert.equal(tagReads.get('bob'), 2, 'that read counts as fresh');

    // Past refreshAfter the index is still served (its hits confirmed), and a refresh starts.
    clock += REFRESH_AFTER_MS;
    fake.push({ name: 'ann2', email: 'ann2@example.com' });
    assert.equal((await users.find('ann@example.com'))?.name, 'ann', 'served stale, confirmed');
    assert.equal(listCalls(), 2, 'refresh started');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await users.find('ann2@example.com'))?.name, 'ann2', 'the refreshed index');
    assert.equal(listCalls(), 2, 'found in the refreshed index, no scan');

    fake.push({ name: 'dee', email: 'dee@example.com' });
    clock += 1_000;
    assert.equal((await users.find('dee@example.com'))?.name, 'dee', 'a miss scans again');
    assert.equal(listCalls(), 3);
  });

  it('a tag moved to another user is never served from the index: the moved hit waits for a new scan', async function () {
    const fake: FakeUser[] = [{ name: 'ann', email: 'ann@example.com' }];
    const { iam, listCalls } = fakeIam(fake);
    const users = directory(iam);
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    clock += CONFIRM_AFTER_MS;
    fake[0]!.email = 'someone-else@example.com';
    fake.push({ name: 'ann2', email: 'ann@example.com' });
    assert.equal((await users.find('ann@example.com'))?.name, 'ann2', 'the user that carries the tag now');
    assert.equal(listCalls(), 2);
    clock += CONFIRM_AFTER_MS;
    fake[1]!.email = undefined;
    assert.equal(await users.find('ann@example.com'), undefined, 'nobody carries it now');
  });

  it('a user deleted and created again under the same name is not the user the index found', async function () {
    const fake: FakeUser[] = [{ name: 'ann', email: 'ann@example.com' }];
    const { iam, listCalls } = fakeIam(fake);
    const users = directory(iam);
    assert.equal((await users.find('ann@example.com'))?.id, 'AIDAANN');
    clock += CONFIRM_AFTER_MS;
    fake[0]!.id = 'AIDANEWANN';
    assert.equal((await users.find('ann@example.com'))?.id, 'AIDANEWANN', 'the new user, from a new scan');
    assert.equal(listCalls(), 2);
  });

  it('a confirming read that fails waits for a scan rather than serve the unconfirmed user', async function () {
    const fake: FakeUser[] = [{ name: 'ann', email: 'ann@example.com' }];
    const { iam, tagReads, listCalls } = fakeIam(fake);
    const users = directory(iam);
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    clock += CONFIRM_AFTER_MS;
    fake[0]!.failures = 1;
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    assert.equal(listCalls(), 2, 'a scan read ann again');
    assert.equal(tagReads.get('ann'), 3);
  });

  it('a look-up arriving during a scan takes the user from it rather than wait for one more', async function () {
    const { iam, listCalls } = fakeIam([{ name: 'ann', email: 'ann@example.com' }, { name: 'bob', email: 'bob@example.com' }], { tagReadMs: 20 });
    const users = directory(iam);
    const first = users.find('ann@example.com');
    clock += 1_000;
    assert.equal((await users.find('bob@example.com'))?.name, 'bob');
    assert.equal((await first)?.name, 'ann');
    assert.equal(listCalls(), 1);
  });

  it('a look-up waits for scans no longer than its limit; the scan goes on and serves the next look-up', async function () {
    let listed!: () => void;
    const { iam } = fakeIam([{ name: 'ann', email: 'ann@example.com' }], { listing: new Promise((resolve) => (listed = resolve)) });
    const users = directory(iam, { waitLimitMs: 30 });
    await assert.rejects(users.find('ann@example.com'), (error: unknown) => {
      assert.ok(error instanceof TagIndexPendingError && !(error instanceof ProviderInputError), String(error));
      assert.match(error.message, /Still reading the IAM users' email tags to find ann@example.com/);
      return true;
    });
    listed();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
  });

  it('a listing that keeps failing fails the look-up (retried) and keeps the index it had', async function () {
    const fake: FakeUser[] = [{ name: 'ann', email: 'ann@example.com' }];
    const { iam } = fakeIam(fake);
    const users = directory(iam);
    assert.equal((await users.find('ann@example.com'))?.name, 'ann');
    const send = (iam as unknown as { send: (command: object) => Promise<unknown> }).send;
    (iam as unknown as { send: (command: object) => Promise<unknown> }).send = async (command) => {
      if (command instanceof ListUsersCommand) throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
      return send(command);
    };
    clock += 1_000;
    await assert.rejects(users.find('new@example.com'), (error: unknown) => !(error instanceof ProviderInputError) && /Rate exceeded/.test(String(error)));
    assert.equal((await users.find('ann@example.com'))?.name, 'ann', 'the index it had still answers');
  });
});
