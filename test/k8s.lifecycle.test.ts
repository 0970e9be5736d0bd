/**
 * Kubernetes access requests end to end: the real API, worker and Temporal dev server, and a real
 * kube-apiserver that the product reaches through a kubeconfig with only the RBAC docs/kubernetes.md
 * documents. The requester's email is mapped with an OIDC-style prefix, and the requester's own token
 * proves the access works while active and stops working after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { V1RoleBinding } from '@kubernetes/client-node';
import type { RequestView } from '../shared/request';
import { Harness } from './support/harness';
import { KUBE_USERS, sharedKubernetes, TEST_CONTEXT, type KubeClients } from './support/kubernetes';

const BOB = 'bob@example.com'; // approver (sre)
const ERIN = 'erin@example.com'; // the cluster knows her as oidc:erin@example.com

describe('Kubernetes access request lifecycle', function () {
  this.timeout(120_000);
  const namespace = `life-${randomBytes(3).toString('hex')}`;
  let h: Harness;
  let admin: KubeClients;
  let erin: KubeClients;

  before(async () => {
    const kube = await sharedKubernetes();
    admin = kube.as(KUBE_USERS.admin);
    erin = kube.as(KUBE_USERS.erin);
    await admin.core.createNamespace({ body: { metadata: { name: namespace } } });
    await admin.rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
    });
    const config = `
approvers:
  sre: [${BOB}]
approvalTimeout: 60s
verifyTimeout: 30s
catalog:
  k8s:
    - resource: test-cluster
      context: ${TEST_CONTEXT}
      levels:
        - { level: pods, kind: role, target: pod-reader, namespace: ${namespace}, approvers: [sre], minDuration: 1s, maxDuration: 1h }
        - { level: broken, kind: role, target: no-such-role, namespace: ${namespace}, approvers: [sre], minDuration: 1s, maxDuration: 1h }
k8s:
  kubeconfig: ${JSON.stringify(kube.productKubeconfig)}
  subject: { kind: User, prefix: 'oidc:' }
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 200ms }
`;
    // The product runs with exactly the RBAC `npm run k8s-rbac` prints for this catalog.
    await kube.grantProduct(config);
    h = await Harness.start(config);
  });
  after(() => h?.stop());

  it('goes requested -> approved -> active -> extended -> expired, and the binding ends exactly as it began', async () => {
    assert.equal(await erinCanListPods(), false);
    const created = await h.request(ERIN, { provider: 'k8s', kind: 'role', target: 'pod-reader', namespace, reason: 'debug INC-7', duration: '4s' });
    assert.equal(created.status, 'pending');
    await h.act(BOB, created.id, 'approve');

    const active = await h.waitFor(ERIN, created.id, ['active']);
    const [binding] = await bindingsOf(created.id);
    assert.equal(binding?.metadata?.name, `p0-${created.id.replace('_', '-').toLowerCase()}`);
    assert.equal(binding?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'p0-jit');
    assert.deepEqual(
      binding?.subjects?.map((subject) => `${subject.kind}:${subject.name}`),
      ['User:oidc:erin@example.com'],
    );
    // Active means Kubernetes already says yes: her own token works at once.
    assert.equal(await erinCanListPods(), true);

    // An approved extension provisions again: the same binding, a later not-after, no gap.
    const asked = await h.call<{ request: RequestView }>(ERIN, 'POST', `/v1/requests/${created.id}/extend`, { duration: '4s' });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    const extended = await h.act(BOB, created.id, 'approve', undefined, asked.body.request.pendingExtension?.id);
    const newExpiresAt = extended.body.request.expiresAt!;
    assert.equal(Date.parse(newExpiresAt) - Date.parse(active.expiresAt!), 4000);
    await eventually(async () => {
      const [current] = await bindingsOf(created.id);
      return current?.metadata?.uid === binding?.metadata?.uid && Date.parse(current?.metadata?.annotations?.['p0.dev/not-after'] ?? '') >= Date.parse(newExpiresAt);
    }, 'the binding carries the extended not-after');
    await sleep(Math.max(0, Date.parse(active.expiresAt!) + 500 - Date.now()));
    assert.equal((await h.waitFor(ERIN, created.id, ['active'])).status, 'active');
    assert.equal(await erinCanListPods(), true, 'still granted past the original end');

    const expired = await h.waitFor(ERIN, created.id, ['expired'], 30_000);
    assert.ok(Date.parse(expired.endedAt!) >= Date.parse(newExpiresAt));
    assert.deepEqual(await bindingsOf(created.id), []);
    assert.equal(await erinCanListPods(), false);
    const events = await h.requests.events(created.id);
    assert.deepEqual(
      events.map((event) => event.type).filter((type) => ['provisioning', 'granted', 'active', 'expired'].includes(type)),
      ['provisioning', 'granted', 'active', 'expired'],
    );
  });

  it('keeps an overlapping request working when the other one is relinquished', async () => {
    const ask = { provider: 'k8s', kind: 'role', target: 'pod-reader', namespace, reason: 'overlap', duration: '10m' };
    const first = await h.request(ERIN, ask);
    const second = await h.request(ERIN, ask);
    await h.act(BOB, first.id, 'approve');
    await h.act(BOB, second.id, 'approve');
    await h.waitFor(ERIN, first.id, ['active']);
    await h.waitFor(ERIN, second.id, ['active']);

    const relinquished = await h.act(ERIN, first.id, 'relinquish');
    assert.equal(relinquished.status, 200, JSON.stringify(relinquished.body));
    await eventually(async () => (await bindingsOf(first.id)).length === 0, 'the first binding is deleted');
    assert.equal((await bindingsOf(second.id)).length, 1);
    assert.equal(await erinCanListPods(), true);

    await h.act(ERIN, second.id, 'relinquish');
    await eventually(async () => (await bindingsOf(second.id)).length === 0, 'the second binding is deleted');
    await eventually(async () => !(await erinCanListPods()), 'access ends with the last request');
  });

  it('fails cleanly for a role that does not exist, leaving nothing behind', async () => {
    const created = await h.request(ERIN, { provider: 'k8s', resource: 'test-cluster', level: 'broken', reason: 'x', duration: '1m' });
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(ERIN, created.id, ['failed']);
    assert.match(failed.error!, new RegExp(`No Role named no-such-role in namespace ${namespace}`));
    assert.deepEqual(await bindingsOf(created.id), []);
  });

  async function bindingsOf(requestId: string): Promise<V1RoleBinding[]> {
    const { items } = await admin.rbac.listNamespacedRoleBinding({ namespace, labelSelector: `p0.dev/request-id=${requestId}` });
    return items;
  }

  async function erinCanListPods(): Promise<boolean> {
    try {
      await erin.core.listNamespacedPod({ namespace });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 403) return false;
      throw error;
    }
  }
});

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
