/**
 * A Google Cloud request end to end: real API, real worker, real Temporal dev server, and the real
 * client library talking to the fake Resource Manager configured through `gcloud.endpoint` and
 * `gcloud.accessToken`, exactly as a private endpoint would be.
 */
import assert from 'node:assert/strict';
import type { RequestView } from '../shared/request';
import { Harness } from './support/harness';
import { FakeResourceManager, type FakeBinding } from './support/fakeResourceManager';

const BOB = 'bob@example.com'; // approver (sre)
const ALICE = 'alice@example.com';
const PROJECT = 'p0-lifecycle-project';

/** What the project held before p0 came along, including Alice's own unconditional binding. */
const ORIGINAL_BINDINGS: FakeBinding[] = [
  { role: 'roles/owner', members: ['user:owner@example.com'] },
  { role: 'roles/bigquery.dataViewer', members: [`user:${ALICE}`] },
  {
    role: 'roles/bigquery.admin',
    members: ['user:contractor@example.com'],
    condition: { title: 'contract', expression: 'request.time < timestamp("2031-01-01T00:00:00Z")' },
  },
];

function configFor(fake: FakeResourceManager): string {
  return `
approvers:
  sre: [${BOB}]
approvalTimeout: 60s
verifyTimeout: 30s
catalog:
  gcloud:
    - resource: analytics
      project: ${PROJECT}
      levels:
        - level: bq-admin
          kind: role
          target: roles/bigquery.admin
          approvers: [sre]
          minDuration: 1s
          maxDuration: 1h
        - level: bq-superuser
          kind: role
          target: roles/bigquery.superuser
          approvers: [sre]
          minDuration: 1s
          maxDuration: 1h
gcloud:
  endpoint: ${fake.endpoint}
  accessToken: ${fake.token}
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The request's own binding in the fake, if any. */
function bindingOf(fake: FakeResourceManager, requestId: string): FakeBinding | undefined {
  return fake.bindings(PROJECT).find((binding) => binding.condition?.title === `p0-${requestId}`);
}

/** The instant in a binding's `request.time < timestamp("...")` condition. */
function expiryOf(binding: FakeBinding | undefined): number {
  const match = /timestamp\("([^"]+)"\)/.exec(binding?.condition?.expression ?? '');
  assert.ok(match, `no expiry in ${JSON.stringify(binding)}`);
  return Date.parse(match[1]!);
}

describe('Google Cloud access request lifecycle', function () {
  this.timeout(120_000);
  let fake: FakeResourceManager;
  let h: Harness;

  before(async () => {
    fake = await FakeResourceManager.start();
    fake.addProject(PROJECT, ORIGINAL_BINDINGS);
    h = await Harness.start(configFor(fake));
  });
  after(async () => {
    await h?.stop();
    await fake?.stop();
  });

  it('goes pending -> active with a Google-enforced conditional binding -> extended -> expired, leaving the policy as it began', async () => {
    const original = fake.policy(PROJECT);
    const created = await h.request(ALICE, { provider: 'gcloud', kind: 'role', target: 'roles/bigquery.admin', reason: 'query the billing export', duration: '8s' });
    assert.equal(created.status, 'pending');
    assert.equal(created.resource, 'analytics');
    assert.equal(bindingOf(fake, created.id), undefined, 'nothing is granted before approval');

    await h.act(BOB, created.id, 'approve', 'ok');
    const active = await h.waitFor(ALICE, created.id, ['active']);
    const granted = bindingOf(fake, created.id);
    assert.deepEqual(granted?.members, [`user:${ALICE}`]);
    assert.equal(granted?.role, 'roles/bigquery.admin');
    // Google's own backstop: past the request's end by at most the verify timeout (30 s), never before it.
    const backstop = expiryOf(granted);
    assert.ok(backstop >= Date.parse(active.expiresAt!), `${new Date(backstop).toISOString()} is not before ${active.expiresAt}`);
    assert.ok(backstop <= Date.parse(active.expiresAt!) + 31_000);
    assert.deepEqual(fake.bindings(PROJECT).slice(0, 3), original.bindings, 'every other binding untouched');

    // An approved extension moves Google's backstop too: the same binding, a later timestamp.
    const asked = await h.call<{ request: RequestView }>(ALICE, 'POST', `/v1/requests/${created.id}/extend`, { duration: '4s', reason: 'one more query' });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    const extension = await h.act(BOB, created.id, 'approve', undefined, asked.body.request.pendingExtension?.id);
    assert.equal(extension.status, 200, JSON.stringify(extension.body));
    const extendedAt = Date.parse(extension.body.request.expiresAt!);
    assert.equal(extendedAt - Date.parse(active.expiresAt!), 4_000);
    for (let waited = 0; expiryOf(bindingOf(fake, created.id)) < extendedAt && waited < 5_000; waited += 100) await sleep(100);
    assert.ok(expiryOf(bindingOf(fake, created.id)) >= extendedAt, 'the condition was rewritten to the new end');
    assert.equal(fake.bindings(PROJECT).filter((binding) => binding.condition?.title === `p0-${created.id}`).length, 1);

    const expired = await h.waitFor(ALICE, created.id, ['expired'], 60_000);
    assert.ok(Date.parse(expired.endedAt!) >= extendedAt);
    assert.deepEqual(fake.bindings(PROJECT), original.bindings, 'the policy is back to what it was');

    const events = (await h.requests.events(created.id)).map((event) => event.type);
    assert.deepEqual(events, ['requested', 'approved', 'provisioning', 'granted', 'active', 'extension_requested', 'extended', 'expired']);
    // Every write went through the etag and the configured token.
    assert.ok(fake.callsOf('setIamPolicy', PROJECT).every((call) => call.policy?.etag && call.status === 200));
  });

  it('fails at once with Google’s words when the role is not supported, and changes nothing', async () => {
    const before = fake.policy(PROJECT).bindings;
    const created = await h.request(ALICE, { provider: 'gcloud', resource: 'analytics', level: 'bq-superuser', reason: 'try', duration: '1m' });
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(ALICE, created.id, ['failed']);
    assert.match(failed.error ?? '', /Role roles\/bigquery\.superuser is not supported for this resource/);
    assert.deepEqual(fake.bindings(PROJECT), before);
  });
});
