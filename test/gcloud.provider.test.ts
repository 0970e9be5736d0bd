/**
 * The Google Cloud provider through the real client library (REST transport) against the fake
 * Resource Manager: the conditional binding a grant writes, other bindings left alone, etag conflicts
 * retried without losing the other change, revoke restoring the policy exactly, extension, overlapping
 * requests, which errors fail a request at once (ProviderInputError) and which are retried, and
 * what the reconciler sees: the bindings titled after a request (listMarked) and their removal.
 */
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load';
import { ProviderInputError, type GrantSpec, type MarkedGrant } from '../providers/provider';
import { createProviders } from '../providers/registry';
import { providerSettings } from '../service/providerSettings';
import { classifyGoogleError, isConcurrentChange } from '../providers/gcloud/errors';
import { grantCondition } from '../providers/gcloud/conditionalBinding';
import { createGcloudProvider, type GcloudProjectIamProvider, type GcloudSettings } from '../providers/gcloud/projectIamProvider';
import { FakeResourceManager, type FakeBinding } from './support/fakeResourceManager';

const PROPAGATION = { settleDelayMs: 0, consecutiveReads: 1, pollIntervalMs: 10 };
const NOT_AFTER = '2030-01-01T00:00:00.000Z';
const LATER = '2030-01-01T06:30:00.000Z';

/** Someone's own bindings: an unconditional grant of the same role, a conditional one, another role. */
function originalBindings(email: string): FakeBinding[] {
  return [
    { role: 'roles/owner', members: ['user:owner@example.com'] },
    { role: 'roles/bigquery.admin', members: [`user:${email}`, 'group:data@example.com'] },
    {
      role: 'roles/bigquery.admin',
      members: ['user:contractor@example.com'],
      condition: { title: 'contract', description: 'until the contract ends', expression: 'request.time < timestamp("2031-01-01T00:00:00Z")' },
    },
    { role: 'roles/viewer', members: ['domain:example.com'] },
  ];
}

let sequence = 0;
function specFor(project: string, principal: string, overrides: Partial<GrantSpec> = {}): GrantSpec {
  sequence += 1;
  return {
    requestId: `req_${String(sequence).padStart(26, '0')}`,
    provider: 'gcloud',
    resource: project,
    scope: {},
    kind: 'role',
    target: 'roles/bigquery.admin',
    principal,
    notAfter: NOT_AFTER,
    ...overrides,
  };
}

/** A fresh project per test, so tests never see each other's bindings. */
function newProject(fake: FakeResourceManager, bindings: FakeBinding[] = []): string {
  sequence += 1;
  const project = `p0-test-project-${sequence}`;
  fake.addProject(project, bindings);
  return project;
}

/** Asserts a ProviderInputError whose message mentions every one of `words`. */
async function rejectsAsInput(call: Promise<unknown>, ...words: string[]): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ProviderInputError, `expected a ProviderInputError, got ${String(error)}`);
    for (const word of words) assert.ok(error.message.includes(word), `"${error.message}" should mention ${word}`);
    return true;
  });
}

/** Asserts an error the activity retries: anything but a ProviderInputError. */
async function rejectsAsRetryable(call: Promise<unknown>, pattern?: RegExp): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(!(error instanceof ProviderInputError), `expected a retryable error, got the ProviderInputError "${String(error)}"`);
    if (pattern) assert.match(String((error as Error).message), pattern);
    return true;
  });
}

describe('GcloudProjectIamProvider (fake Resource Manager)', function () {
  let fake: FakeResourceManager;
  let provider: GcloudProjectIamProvider;

  function providerWith(settings: Partial<GcloudSettings> = {}): GcloudProjectIamProvider {
    return createGcloudProvider({ endpoint: fake.endpoint, accessToken: fake.token, principalType: 'user', propagation: PROPAGATION, projects: [], ...settings });
  }

  before(async () => {
    fake = await FakeResourceManager.start();
    provider = providerWith();
  });
  after(() => fake?.stop());

  it('grants the role with an IAM condition titled after the request, leaving every other binding as it was', async () => {
    const email = 'alice@example.com';
    const project = newProject(fake, originalBindings(email));
    const spec = specFor(project, email);

    const before = await provider.inspect(spec);
    assert.equal(before.present, false, 'the user’s own unconditional binding of the role is not this grant');
    assert.ok(before.resourceKey.includes(spec.requestId), `${before.resourceKey} is private to the request`);
    assert.equal(await provider.isGranted(spec), false);

    await provider.grant(spec);

    const policy = fake.policy(project);
    assert.equal(policy.version, 3);
    assert.deepEqual(policy.bindings.slice(0, 4), originalBindings(email));
    assert.deepEqual(policy.bindings.slice(4), [
      {
        role: 'roles/bigquery.admin',
        members: [`user:${email}`],
        condition: {
          title: `p0-${spec.requestId}`,
          description: `Temporary access granted by p0 for request ${spec.requestId}; Google stops honouring it at 2030-01-01T00:00:00Z`,
          expression: 'request.time < timestamp("2030-01-01T00:00:00Z")',
        },
      },
    ]);
    assert.equal((await provider.inspect(spec)).present, true);
    assert.equal(await provider.isGranted(spec), true);

    // Every read asked for version 3 (conditions are only visible so), every write carried the etag read.
    const gets = fake.callsOf('getIamPolicy', project);
    assert.ok(gets.length >= 4 && gets.every((call) => call.requestedPolicyVersion === 3));
    const [set] = fake.callsOf('setIamPolicy', project);
    assert.equal(set?.status, 200);
    assert.equal(set.policy?.version, 3);
    assert.ok(set.policy?.etag, 'the write is guarded by the etag');
    assert.equal(fake.callsOf('setIamPolicy', project).length, 1);

    // Granting again changes nothing and writes nothing.
    await provider.grant(spec);
    assert.equal(fake.callsOf('setIamPolicy', project).length, 1);
  });

  it('binds the requester with the configured principal type', async () => {
    const project = newProject(fake);
    const spec = specFor(project, 'Deploy-Bot@example.com');
    await providerWith({ principalType: 'serviceAccount' }).grant(spec);
    assert.deepEqual(fake.bindings(project).map((binding) => binding.members), [['serviceAccount:deploy-bot@example.com']]);
    assert.ok((await providerWith({ principalType: 'serviceAccount' }).inspect(spec)).resourceKey.includes('serviceAccount:deploy-bot@example.com'));
  });

  it('reads back and revokes the member recorded at grant time, even after the principal type changed', async () => {
    const project = newProject(fake);
    const spec = specFor(project, 'Carol@example.com');
    const { principal } = await provider.inspect(spec);
    assert.deepEqual(principal, { member: 'user:carol@example.com' });
    const recorded = { ...spec, recordedPrincipal: principal };
    await provider.grant(recorded);
    // The config now binds requesters as groups: the user's binding must still be found and removed.
    const reconfigured = providerWith({ principalType: 'group' });
    assert.equal(await reconfigured.isGranted(recorded), true);
    await reconfigured.revoke(recorded);
    assert.equal(await reconfigured.isGranted(recorded), false);
    assert.deepEqual(fake.bindings(project), []);
  });

  it('takes the project from the catalog scope when there is one', async () => {
    const project = newProject(fake);
    const spec = specFor(project, 'scoped@example.com', { resource: 'analytics', scope: { project } });
    await provider.grant(spec);
    assert.equal(await provider.isGranted(spec), true);
    assert.equal(fake.bindings(project).length, 1);
  });

  it('on an extension rewrites the condition of the same binding to the later expiry', async () => {
    const email = 'extender@example.com';
    const project = newProject(fake, originalBindings(email));
    const spec = specFor(project, email);
    await provider.grant(spec);

    await provider.grant({ ...spec, notAfter: LATER });

    const ours = fake.bindings(project).filter((binding) => binding.condition?.title === `p0-${spec.requestId}`);
    assert.equal(ours.length, 1, 'still one binding for the request');
    assert.equal(ours[0]!.condition!.expression, 'request.time < timestamp("2030-01-01T06:30:00Z")');
    assert.deepEqual(ours[0]!.members, [`user:${email}`]);
    assert.deepEqual(fake.bindings(project).slice(0, 4), originalBindings(email));
    assert.equal(await provider.isGranted(spec), true);
  });

  it('writes the expiry to the second, rounded up', () => {
    assert.equal(grantCondition('r', '2030-01-01T00:00:00.001Z').expression, 'request.time < timestamp("2030-01-01T00:00:01Z")');
    assert.equal(grantCondition('r', '2030-01-01T00:00:00.000Z').expression, 'request.time < timestamp("2030-01-01T00:00:00Z")');
  });

  it('revokes exactly its own binding: the policy is back to what it was, and revoking again writes nothing', async () => {
    const email = 'bob@example.com';
    const project = newProject(fake, originalBindings(email));
    const original = fake.policy(project);
    const spec = specFor(project, email);
    await provider.grant(spec);

    await provider.revoke(spec);

    assert.deepEqual(fake.bindings(project), original.bindings);
    assert.equal(await provider.isGranted(spec), false);
    assert.equal((await provider.inspect(spec)).present, false);
    const writes = fake.callsOf('setIamPolicy', project).length;
    await provider.revoke(spec);
    assert.equal(fake.callsOf('setIamPolicy', project).length, writes, 'nothing left to remove, nothing written');
  });

  it('keeps overlapping requests apart: ending one leaves the other’s binding', async () => {
    const email = 'overlap@example.com';
    const project = newProject(fake);
    const first = specFor(project, email);
    const second = specFor(project, email, { notAfter: LATER });
    await provider.grant(first);
    await provider.grant(second);
    assert.notEqual((await provider.inspect(first)).resourceKey, (await provider.inspect(second)).resourceKey);
    assert.equal(fake.bindings(project).length, 2);

    await provider.revoke(first);

    assert.equal(await provider.isGranted(first), false);
    assert.equal(await provider.isGranted(second), true);
    assert.deepEqual(fake.bindings(project).map((binding) => binding.condition?.title), [`p0-${second.requestId}`]);
  });

  it('removes only its member when someone added another to the request’s binding', async () => {
    const email = 'shared@example.com';
    const project = newProject(fake);
    const spec = specFor(project, email);
    await provider.grant(spec);
    fake.addProject(project, fake.bindings(project).map((binding) => ({ ...binding, members: [...binding.members, 'user:added-by-hand@example.com'] })));

    await provider.revoke(spec);

    assert.deepEqual(fake.bindings(project).map((binding) => binding.members), [['user:added-by-hand@example.com']]);
  });

  it('retries a write refused for a stale etag from a fresh read, keeping the concurrent change', async () => {
    const email = 'carol@example.com';
    const project = newProject(fake, originalBindings(email));
    const spec = specFor(project, email);
    const concurrent: FakeBinding = { role: 'roles/storage.admin', members: ['user:someone-else@example.com'] };
    fake.changeBeforeNextSet(project, (bindings) => [...bindings, concurrent]);

    await provider.grant(spec);

    const sets = fake.callsOf('setIamPolicy', project);
    assert.deepEqual(sets.map((call) => call.status), [409, 200]);
    assert.notEqual(sets[0]!.policy?.etag, sets[1]!.policy?.etag, 'the retry wrote against the etag of a new read');
    const bindings = fake.bindings(project);
    assert.deepEqual(bindings.slice(0, 5), [...originalBindings(email), concurrent], 'the concurrent change survived');
    assert.equal(bindings.length, 6);
    assert.equal(await provider.isGranted(spec), true);

    // The same on the way out: the concurrent change made during revoke stays, ours goes.
    const another: FakeBinding = { role: 'roles/viewer', members: ['user:another@example.com'] };
    fake.changeBeforeNextSet(project, (current) => [...current, another]);
    await provider.revoke(spec);
    assert.deepEqual(fake.bindings(project), [...originalBindings(email), concurrent, another]);
  });

  it('gives up after a bounded number of conflicts with an error the activity retries, overwriting nothing', async function () {
    this.timeout(20_000);
    const project = newProject(fake);
    const spec = specFor(project, 'busy@example.com');
    let changes = 0;
    fake.changeBeforeNextSet(project, (bindings) => [...bindings, { role: 'roles/viewer', members: [`user:writer-${++changes}@example.com`] }], 5);

    await rejectsAsRetryable(provider.grant(spec), /kept changing/);

    assert.deepEqual(fake.callsOf('setIamPolicy', project).map((call) => call.status), [409, 409, 409, 409, 409]);
    assert.equal(fake.bindings(project).length, 5, 'all five concurrent changes are there');
    assert.equal(await provider.isGranted(spec), false);
    // The activity's retry goes through once the policy holds still.
    await provider.grant(spec);
    assert.equal(await provider.isGranted(spec), true);
  });

  it('fails at once (ProviderInputError) for an unknown project, and treats it as holding nothing on the way out', async () => {
    const spec = specFor('no-such-project', 'dave@example.com');
    await rejectsAsInput(provider.inspect(spec), 'no-such-project', 'NOT_FOUND');
    await rejectsAsInput(provider.grant(spec), 'no-such-project', 'NOT_FOUND');
    assert.equal(await provider.isGranted(spec), false);
    await provider.revoke(spec);
  });

  it('fails at once (ProviderInputError) with Google’s words for a role the project does not know, changing nothing', async () => {
    const project = newProject(fake, originalBindings('erin@example.com'));
    const spec = specFor(project, 'erin@example.com', { target: 'roles/bigquery.superuser' });
    await provider.inspect(spec);
    await rejectsAsInput(provider.grant(spec), 'INVALID_ARGUMENT', 'Role roles/bigquery.superuser is not supported for this resource');
    assert.deepEqual(fake.bindings(project), originalBindings('erin@example.com'));
  });

  it('refuses malformed input without calling Google', async () => {
    const project = newProject(fake);
    const calls = fake.calls.length;
    await rejectsAsInput(provider.inspect(specFor(project, 'x@example.com', { target: 'bigquery.admin' })), 'bigquery.admin', 'roles/');
    await rejectsAsInput(provider.inspect(specFor(project, 'x@example.com', { kind: 'group' })), 'group', 'role');
    await rejectsAsInput(provider.inspect(specFor('Not_A_Project', 'x@example.com')), 'Not_A_Project');
    await rejectsAsInput(provider.inspect(specFor(project, 'not-an-email')), 'not-an-email');
    assert.equal(fake.calls.length, calls);
  });

  it('accepts custom roles by their full name', async () => {
    const fakeWithCustomRole = await FakeResourceManager.start({ roles: ['projects/custom-proj/roles/p0Reader'] });
    try {
      fakeWithCustomRole.addProject('custom-proj');
      const custom = createGcloudProvider({ endpoint: fakeWithCustomRole.endpoint, accessToken: fakeWithCustomRole.token, principalType: 'group', propagation: PROPAGATION, projects: ['custom-proj'] });
      const spec = specFor('custom-proj', 'readers@example.com', { target: 'projects/custom-proj/roles/p0Reader' });
      await custom.grant(spec);
      assert.equal(await custom.isGranted(spec), true);
      assert.deepEqual(fakeWithCustomRole.bindings('custom-proj')[0]!.members, ['group:readers@example.com']);
    } finally {
      await fakeWithCustomRole.stop();
    }
  });

  for (const [method, failure] of [
    ['getIamPolicy', 503],
    ['setIamPolicy', 503],
    ['getIamPolicy', 429],
  ] as const) {
    it(`answers a ${failure} on ${method} with an error the activity retries, and succeeds on the retry`, async () => {
      const project = newProject(fake, originalBindings('frank@example.com'));
      const spec = specFor(project, 'frank@example.com');
      fake.failNext(method, failure);
      await rejectsAsRetryable(provider.grant(spec));
      assert.deepEqual(fake.bindings(project), originalBindings('frank@example.com'), 'nothing written');
      await provider.grant(spec);
      assert.equal(await provider.isGranted(spec), true);
    });
  }

  for (const method of ['getIamPolicy', 'setIamPolicy'] as const) {
    it(`tries ${method} again at once when its connection is cut before any answer; three cuts in a row are left to the activity`, async () => {
      const project = newProject(fake, originalBindings('ivan@example.com'));
      const spec = specFor(project, 'ivan@example.com');
      fake.failNext(method, 'reset');
      await provider.grant(spec);
      assert.equal(await provider.isGranted(spec), true, 'one cut connection is not a failed grant');

      const other = newProject(fake, originalBindings('judy@example.com'));
      const otherSpec = specFor(other, 'judy@example.com');
      for (let cut = 0; cut < 3; cut += 1) fake.failNext(method, 'reset');
      await rejectsAsRetryable(provider.grant(otherSpec));
      assert.deepEqual(fake.bindings(other), originalBindings('judy@example.com'), 'nothing written');
    });
  }

  it('a setIamPolicy served but whose answer was lost is tried again, refused for its stale etag, and found already done', async () => {
    const project = newProject(fake, originalBindings('karl@example.com'));
    const spec = specFor(project, 'karl@example.com');
    fake.failNext('setIamPolicy', 'applied-reset');
    await provider.grant(spec);
    assert.equal(await provider.isGranted(spec), true);
    assert.deepEqual(
      fake.callsOf('setIamPolicy', project).map((call) => call.status),
      [200, 409],
      'the second try is refused for its stale etag, and the fresh read shows the grant: no third write',
    );
  });

  it('sends the configured token, and a wrong one is refused (401) with an error the activity retries', async () => {
    const project = newProject(fake);
    const spec = specFor(project, 'grace@example.com');
    const wrongToken = providerWith({ accessToken: 'not-the-token' });
    await rejectsAsRetryable(wrongToken.grant(spec), /UNAUTHENTICATED/);
    await rejectsAsRetryable(wrongToken.isGranted(spec));
    assert.deepEqual(fake.callsOf('getIamPolicy', project).map((call) => call.status), [401, 401]);
    assert.deepEqual(fake.bindings(project), []);
  });

  it('takes the static token from P0_GCLOUD_ACCESS_TOKEN, so it need not sit in the policy file, and prefers it to gcloud.accessToken', async () => {
    const project = newProject(fake);
    const configWith = (accessToken?: string) =>
      parseConfig(
        `approvers: { sre: [bob@example.com] }
catalog:
  gcloud:
    - resource: ${project}
      levels: [{ level: viewer, kind: role, target: roles/viewer, approvers: [sre] }]
gcloud:
  endpoint: ${fake.endpoint}
${accessToken ? `  accessToken: ${accessToken}\n` : ''}`,
        'p0.yaml',
      );
    const spec = specFor(project, 'henry@example.com', { target: 'roles/viewer' });
    const fromEnvironment = createProviders(providerSettings(configWith(), { P0_GCLOUD_ACCESS_TOKEN: fake.token })).get('gcloud')!;
    assert.equal(await fromEnvironment.isGranted(spec), false);
    const overTheFile = createProviders(providerSettings(configWith('an-old-token'), { P0_GCLOUD_ACCESS_TOKEN: ` ${fake.token}\n` })).get('gcloud')!;
    assert.equal(await overTheFile.isGranted(spec), false);
    const fromTheFile = createProviders(providerSettings(configWith(fake.token), {})).get('gcloud')!;
    assert.equal(await fromTheFile.isGranted(spec), false);
    assert.deepEqual(fake.callsOf('getIamPolicy', project).map((call) => call.status), [200, 200, 200], 'each sent the token the fake accepts');
  });

  describe('marked grants (for the reconciler)', () => {
    /** Someone's own binding whose title merely looks like ours, but names no request. */
    const lookalike: FakeBinding = {
      role: 'roles/viewer',
      members: ['user:lookalike@example.com'],
      condition: { title: 'p0-', expression: 'request.time < timestamp("2031-01-01T00:00:00Z")' },
    };
    const byRequest = (grants: MarkedGrant[]) => [...grants].sort((a, b) => a.requestId.localeCompare(b.requestId));

    it('lists exactly the bindings titled after a request in the catalog’s projects, and removes one at a time', async () => {
      const first = newProject(fake, [...originalBindings('alice@example.com'), lookalike]);
      const second = newProject(fake);
      const elsewhere = newProject(fake);
      const original = fake.bindings(first);
      const reconciling = providerWith({ projects: [first, second, first, 'p0-test-project-gone', 'Not_A_Project'] });
      const alice = specFor(first, 'alice@example.com');
      const bob = specFor(second, 'Bob@example.com', { target: 'roles/viewer' });
      const notInCatalog = specFor(elsewhere, 'carol@example.com');
      for (const spec of [alice, bob, notInCatalog]) await provider.grant(spec);

      const listed = await reconciling.listMarked();

      assert.deepEqual(byRequest(listed), [
        {
          provider: 'gcloud',
          requestId: alice.requestId,
          description: `project ${first}: roles/bigquery.admin for user:alice@example.com (condition p0-${alice.requestId})`,
          ref: { project: first, role: 'roles/bigquery.admin', member: 'user:alice@example.com', title: `p0-${alice.requestId}` },
        },
        {
          provider: 'gcloud',
          requestId: bob.requestId,
          description: `project ${second}: roles/viewer for user:bob@example.com (condition p0-${bob.requestId})`,
          ref: { project: second, role: 'roles/viewer', member: 'user:bob@example.com', title: `p0-${bob.requestId}` },
        },
      ]);
      // A project listed twice is read once; a project that is gone holds nothing.
      assert.equal(fake.callsOf('getIamPolicy', first).filter((call) => call.status === 200).length, 2, 'one read by grant, one by listMarked');
      assert.deepEqual(fake.callsOf('getIamPolicy', 'p0-test-project-gone').map((call) => call.status), [404]);

      const aliceGrant = listed.find((grant) => grant.requestId === alice.requestId)!;
      await reconciling.removeMarked(aliceGrant);

      assert.deepEqual(fake.bindings(first), original, 'only the marked binding went; the look-alike and the user’s own stay');
      assert.equal(await provider.isGranted(bob), true);
      assert.equal(await provider.isGranted(notInCatalog), true);
      assert.deepEqual(await reconciling.listMarked(), listed.filter((grant) => grant.requestId === bob.requestId));

      const writes = fake.callsOf('setIamPolicy', first).length;
      await reconciling.removeMarked(aliceGrant);
      assert.equal(fake.callsOf('setIamPolicy', first).length, writes, 'already gone: succeeds and writes nothing');
    });

    it('lists each member of a marked binding on its own, and drops the binding with its last member', async () => {
      const project = newProject(fake);
      const reconciling = providerWith({ projects: [project] });
      const spec = specFor(project, 'dana@example.com');
      await provider.grant(spec);
      fake.addProject(project, fake.bindings(project).map((binding) => ({ ...binding, members: [...binding.members, 'group:added-by-hand@example.com'] })));

      const listed = await reconciling.listMarked();
      assert.deepEqual(listed.map((grant) => grant.ref.member), ['user:dana@example.com', 'group:added-by-hand@example.com']);
      assert.ok(listed.every((grant) => grant.requestId === spec.requestId));

      await reconciling.removeMarked(listed[1]!);
      assert.deepEqual(fake.bindings(project).map((binding) => binding.members), [['user:dana@example.com']]);
      await reconciling.removeMarked(listed[0]!);
      assert.deepEqual(fake.bindings(project), []);
    });

    it('removes with the same etag read-modify-write as revoke: a concurrent change is retried and kept', async () => {
      const project = newProject(fake);
      const reconciling = providerWith({ projects: [project] });
      await provider.grant(specFor(project, 'erin@example.com'));
      const [marked] = await reconciling.listMarked();
      const concurrent: FakeBinding = { role: 'roles/viewer', members: ['user:meanwhile@example.com'] };
      fake.changeBeforeNextSet(project, (bindings) => [...bindings, concurrent]);

      await reconciling.removeMarked(marked!);

      assert.deepEqual(fake.callsOf('setIamPolicy', project).map((call) => call.status), [200, 409, 200]);
      assert.deepEqual(fake.bindings(project), [concurrent]);
    });

    it('refuses to remove a binding that is not titled after a request, changing nothing', async () => {
      const project = newProject(fake, originalBindings('frank@example.com'));
      const reconciling = providerWith({ projects: [project] });
      assert.deepEqual(await reconciling.listMarked(), []);
      const notOurs = (title: string): MarkedGrant => ({
        provider: 'gcloud',
        requestId: 'x',
        description: 'forged',
        ref: { project, role: 'roles/bigquery.admin', member: 'user:contractor@example.com', title },
      });
      await rejectsAsInput(reconciling.removeMarked(notOurs('contract')), 'Not a Google Cloud grant');
      await rejectsAsInput(reconciling.removeMarked(notOurs('p0-')), 'Not a Google Cloud grant');
      await rejectsAsInput(reconciling.removeMarked({ ...notOurs('p0-x'), provider: 'aws' }), 'Not a Google Cloud grant');
      assert.deepEqual(fake.bindings(project), originalBindings('frank@example.com'));
      assert.equal(fake.callsOf('setIamPolicy', project).length, 0);
    });

    it('fails the listing (retried) when a catalog project cannot be read, rather than reporting it empty', async () => {
      const project = newProject(fake);
      await provider.grant(specFor(project, 'gina@example.com'));
      const reconciling = providerWith({ projects: [project] });
      fake.failNext('getIamPolicy', 503);
      await rejectsAsRetryable(reconciling.listMarked());
      assert.equal((await reconciling.listMarked()).length, 1);
    });
  });

  describe('error classification', () => {
    const body = (code: number, status: string, message: string) => JSON.stringify({ error: { code, message, status } });
    /** What the REST transport throws: the HTTP client's error, the response body as its message. */
    const restError = (code: number, status: string, message: string) => Object.assign(new Error(body(code, status, message)), { status: code, code });

    it('turns 400 and 404 into ProviderInputErrors with Google’s message', () => {
      const invalid = classifyGoogleError(restError(400, 'INVALID_ARGUMENT', 'Role roles/x is not supported'), 'granting x');
      assert.ok(invalid instanceof ProviderInputError);
      assert.equal(invalid.message, 'Google Cloud refused granting x: INVALID_ARGUMENT: Role roles/x is not supported');
      assert.ok(classifyGoogleError(restError(404, 'NOT_FOUND', 'gone'), 'reading') instanceof ProviderInputError);
      // A bare 404 (something else at the endpoint) is bad input too: a wrong endpoint will not heal.
      assert.ok(classifyGoogleError(Object.assign(new Error('Not Found'), { status: 404 }), 'reading') instanceof ProviderInputError);
    });

    it('leaves permission, quota, conflict, server and network errors to be retried', () => {
      for (const error of [
        restError(403, 'PERMISSION_DENIED', 'The caller does not have permission'),
        restError(401, 'UNAUTHENTICATED', 'bad token'),
        restError(429, 'RESOURCE_EXHAUSTED', 'quota'),
        restError(409, 'ABORTED', 'concurrent policy changes'),
        restError(500, 'INTERNAL', 'oops'),
        restError(503, 'UNAVAILABLE', 'later'),
        Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      ]) {
        assert.equal(classifyGoogleError(error, 'x'), error);
      }
    });

    it('reads the gRPC transport’s errors the same way', () => {
      const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });
      assert.ok(classifyGoogleError(grpcError(3, 'bad role'), 'x') instanceof ProviderInputError);
      assert.ok(classifyGoogleError(grpcError(5, 'no project'), 'x') instanceof ProviderInputError);
      assert.ok(!(classifyGoogleError(grpcError(14, 'unavailable'), 'x') instanceof ProviderInputError));
      assert.equal(isConcurrentChange(grpcError(10, 'aborted')), true);
      assert.equal(isConcurrentChange(restError(409, 'ABORTED', 'x')), true);
      assert.equal(isConcurrentChange(restError(503, 'UNAVAILABLE', 'x')), false);
    });
  });
});
