/**
 * The Kubernetes provider against a real kube-apiserver (RBAC on, etcd behind it), driven the way the
 * activities drive it: inspect -> grant -> isGranted until true; revoke -> isGranted until false.
 * "Granted" is checked with alice's own token, not just with the product's read-back. The product
 * runs with exactly the RBAC `npm run k8s-rbac` prints for this file's catalog (PROVIDER_CONFIG),
 * the reconciler's view (listMarked, removeMarked) too; and that RBAC lets it bind nothing else.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1RoleBinding } from '@kubernetes/client-node';
import { ulid } from 'ulid';
import YAML from 'yaml';
import { parseConfig } from '../config/load';
import { ProviderInputError, type GrantSpec, type MarkedGrant } from '../providers/provider';
import { checksFromRules } from '../providers/k8s/accessChecks';
import { bindingNameFor, reasonCitesBinding, requestIdLabelValue, subjectFor } from '../providers/k8s/binding';
import { classifyKubernetesError } from '../providers/k8s/errors';
import { productRbac } from '../providers/k8s/productRbac';
import { createKubernetesRbacProvider, type KubernetesRbacProvider, type KubernetesSettings } from '../providers/k8s/rbacProvider';
import { KUBE_USERS, sharedKubernetes, TEST_CONTEXT, type KubeClients, type RunningKubernetes } from './support/kubernetes';

const MANAGED = 'app.kubernetes.io/managed-by=p0-jit';
const POD_READER_RULES = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }];

describe('Kubernetes provider (real kube-apiserver)', function () {
  this.timeout(120_000);
  let kube: RunningKubernetes;
  let admin: KubeClients;
  let alice: KubeClients;
  let provider: KubernetesRbacProvider;
  /** Namespaces of this file, unique per run so reruns against one server never collide. */
  const suffix = randomBytes(3).toString('hex');
  const namespace = `prov-${suffix}`;
  const otherNamespace = `prov-own-${suffix}`;
  const namespaceReader = `p0-test-namespace-reader-${suffix}`;
  const markedNamespace = `marked-${suffix}`;
  /** What this file's tests ask the product to grant: its catalog decides the product's RBAC. */
  const PROVIDER_CONFIG = `
approvers: { sre: [bob@example.com] }
catalog:
  k8s:
    - resource: test-cluster
      context: ${TEST_CONTEXT}
      levels:
        - { level: pods, kind: role, target: pod-reader, namespace: ${namespace}, approvers: [sre] }
        - { level: own-pods, kind: role, target: pod-reader, namespace: ${otherNamespace}, approvers: [sre] }
        - { level: marked-pods, kind: role, target: pod-reader, namespace: ${markedNamespace}, approvers: [sre] }
        - { level: namespaces, kind: cluster-role, target: ${namespaceReader}, approvers: [sre] }
        - { level: namespaces-here, kind: cluster-role, target: ${namespaceReader}, namespace: ${namespace}, approvers: [sre] }
        - { level: empty, kind: role, target: empty, namespace: ${namespace}, approvers: [sre] }
        - { level: broken, kind: role, target: no-such-role, namespace: ${namespace}, approvers: [sre] }
        - { level: broken-cluster, kind: cluster-role, target: no-such-cluster-role, approvers: [sre] }
        - { level: gone, kind: role, target: pod-reader, namespace: missing-${suffix}, approvers: [sre] }
`;

  const settings = (overrides: Partial<KubernetesSettings> = {}): KubernetesSettings => ({
    kubeconfig: kube.productKubeconfig,
    inCluster: false,
    subject: { kind: 'User', prefix: '', from: 'email' },
    checks: {},
    propagation: { settleDelayMs: 0, consecutiveReads: 1, pollIntervalMs: 100 },
    contexts: [TEST_CONTEXT],
    ...overrides,
  });

  const spec = (overrides: Partial<GrantSpec> & { namespace?: string | null } = {}): GrantSpec => {
    const { namespace: specNamespace, ...rest } = overrides;
    const scope: Record<string, string> = { context: TEST_CONTEXT };
    if (specNamespace !== null) scope.namespace = specNamespace ?? namespace;
    return {
      requestId: `req_${ulid()}`,
      provider: 'k8s',
      resource: 'test-cluster',
      scope,
      kind: 'role',
      target: 'pod-reader',
      principal: KUBE_USERS.alice,
      notAfter: new Date(Date.now() + 3_600_000).toISOString(),
      ...rest,
    };
  };

  before(async () => {
    kube = await sharedKubernetes();
    admin = kube.as(KUBE_USERS.admin);
    alice = kube.as(KUBE_USERS.alice);
    provider = createKubernetesRbacProvider(settings());
    for (const name of [namespace, otherNamespace]) {
      await admin.core.createNamespace({ body: { metadata: { name } } });
      await admin.rbac.createNamespacedRole({ namespace: name, body: { metadata: { name: 'pod-reader' }, rules: POD_READER_RULES } });
    }
    await admin.rbac.createClusterRole({
      body: { metadata: { name: namespaceReader }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list'] }] },
    });
    await admin.core.createNamespace({ body: { metadata: { name: markedNamespace } } });
    await admin.rbac.createNamespacedRole({ namespace: markedNamespace, body: { metadata: { name: 'pod-reader' }, rules: POD_READER_RULES } });
    // The namespace the catalog names but nobody created: its Role cannot be applied (nor by kubectl).
    assert.deepEqual((await kube.grantProduct(PROVIDER_CONFIG)).skipped, [`Role p0-jit in namespace missing-${suffix}`, `RoleBinding p0-jit in namespace missing-${suffix}`]);
  });

  it("may bind only the catalog's roles: cluster-admin, or a role the catalog does not name, is forbidden", async () => {
    const product = kube.as(KUBE_USERS.product).rbac;
    await admin.rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'not-in-catalog' }, rules: POD_READER_RULES } });
    // (The test server runs no controllers, so `edit` and `view` are empty: anyone may bind an empty role.)
    await admin.rbac.createClusterRole({ body: { metadata: { name: `not-in-catalog-${suffix}` }, rules: POD_READER_RULES } });
    const ref = (kind: 'Role' | 'ClusterRole', name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
    const toProduct = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_USERS.product }];
    const outcome = (call: Promise<unknown>) => call.then(() => 'allowed', (error: { code?: number }) => `refused ${error.code}`);
    const name = `escalate-${suffix}`;
    const attempts: Record<string, Promise<unknown>> = {
      'cluster-admin cluster-wide': product.createClusterRoleBinding({ body: { metadata: { name }, roleRef: ref('ClusterRole', 'cluster-admin'), subjects: toProduct } }),
      'cluster-admin in a catalog namespace': product.createNamespacedRoleBinding({ namespace, body: { metadata: { name }, roleRef: ref('ClusterRole', 'cluster-admin'), subjects: toProduct } }),
      'a Role outside the catalog': product.createNamespacedRoleBinding({ namespace, body: { metadata: { name: `${name}-2` }, roleRef: ref('Role', 'not-in-catalog'), subjects: toProduct } }),
      'a ClusterRole the catalog does not name': product.createClusterRoleBinding({ body: { metadata: { name: `${name}-3` }, roleRef: ref('ClusterRole', `not-in-catalog-${suffix}`), subjects: toProduct } }),
      'its own ClusterRole widened': product.replaceClusterRole({ name: 'p0-jit', body: { metadata: { name: 'p0-jit' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } }),
      'a new Role': product.createNamespacedRole({ namespace, body: { metadata: { name: `${name}-5` }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } }),
    };
    for (const [what, call] of Object.entries(attempts)) assert.equal(await outcome(call), 'refused 403', what);

    // An existing cluster-admin binding cannot be widened to the product either (update runs the same check).
    const standing = await admin.rbac.createClusterRoleBinding({ body: { metadata: { name: `standing-${suffix}` }, roleRef: ref('ClusterRole', 'cluster-admin'), subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'ops@example.com' }] } });
    assert.equal(await outcome(product.replaceClusterRoleBinding({ name: `standing-${suffix}`, body: { ...standing, subjects: [...standing.subjects!, ...toProduct] } })), 'refused 403');
    await admin.rbac.deleteClusterRoleBinding({ name: `standing-${suffix}` });

    // What the catalog does name, it may bind, where the catalog binds it.
    const allowed = await product.createClusterRoleBinding({ body: { metadata: { name: `${name}-ok` }, roleRef: ref('ClusterRole', namespaceReader), subjects: toProduct } });
    await product.deleteClusterRoleBinding({ name: allowed.metadata!.name! });
    const allowedHere = await product.createNamespacedRoleBinding({ namespace, body: { metadata: { name: `${name}-ok` }, roleRef: ref('Role', 'pod-reader'), subjects: toProduct } });
    await product.deleteNamespacedRoleBinding({ name: allowedHere.metadata!.name!, namespace });
  });

  it('grants a RoleBinding that SubjectAccessReview allows and alice can use, and revoking ends it', async () => {
    const grant = spec();
    const bindingName = bindingNameFor(grant.requestId);
    assert.equal(await aliceCanListPods(namespace), false);
    assert.equal(await provider.isGranted(grant), false);

    const inspection = await provider.inspect(grant);
    assert.deepEqual(inspection, {
      resourceKey: `k8s:test-cluster/namespaces/${namespace}/rolebindings/${bindingName}`,
      present: false,
      principal: { subjectKind: 'User', subjectName: KUBE_USERS.alice },
    });

    await provider.grant(grant);
    const binding = await admin.rbac.readNamespacedRoleBinding({ name: bindingName, namespace });
    assert.equal(bindingName, `p0-${grant.requestId.replace('_', '-').toLowerCase()}`);
    assert.equal(binding.metadata?.labels?.['app.kubernetes.io/managed-by'], 'p0-jit');
    assert.equal(binding.metadata?.labels?.['p0.dev/request-id'], grant.requestId);
    assert.equal(binding.metadata?.annotations?.['p0.dev/not-after'], grant.notAfter);
    assert.deepEqual(plain(binding.roleRef), { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' });
    assert.deepEqual(plain(binding.subjects), [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_USERS.alice }]);

    await until(() => provider.isGranted(grant), true);
    const review = await reviewAsAdmin(KUBE_USERS.alice, namespace, 'list', 'pods');
    assert.equal(review.allowed, true);
    assert.match(review.reason ?? '', new RegExp(`RoleBinding "${bindingName}/${namespace}"`));
    await until(() => aliceCanListPods(namespace), true);
    assert.equal((await provider.inspect(grant)).present, true);

    // An approved extension provisions again with a later notAfter: same binding, new annotation.
    const extended = { ...grant, notAfter: new Date(Date.now() + 7_200_000).toISOString() };
    await provider.grant(extended);
    await provider.grant(extended);
    const after = await admin.rbac.readNamespacedRoleBinding({ name: bindingName, namespace });
    assert.equal(after.metadata?.uid, binding.metadata?.uid, 'the binding is updated in place, never recreated');
    assert.equal(after.metadata?.annotations?.['p0.dev/not-after'], extended.notAfter);
    assert.equal(await provider.isGranted(extended), true);

    await provider.revoke(grant);
    await assert.rejects(admin.rbac.readNamespacedRoleBinding({ name: bindingName, namespace }), (error: { code?: number }) => error.code === 404);
    await until(() => provider.isGranted(grant), false);
    await until(() => aliceCanListPods(namespace), false);
    assert.equal((await reviewAsAdmin(KUBE_USERS.alice, namespace, 'list', 'pods')).allowed, false);
    await provider.revoke(grant); // already gone: still success
  });

  it('keeps overlapping requests apart: ending one leaves the other working', async () => {
    const first = spec();
    const second = spec();
    const [firstKey, secondKey] = [(await provider.inspect(first)).resourceKey, (await provider.inspect(second)).resourceKey];
    assert.notEqual(firstKey, secondKey, 'each request owns its own binding');
    await provider.grant(first);
    await provider.grant(second);
    await until(() => provider.isGranted(first), true);
    await until(() => provider.isGranted(second), true);
    assert.deepEqual(await managedBindingNames(namespace), [bindingNameFor(first.requestId), bindingNameFor(second.requestId)].sort());

    await provider.revoke(first);
    // The first is revoked as soon as no review cites its binding, although alice can still list pods.
    await until(() => provider.isGranted(first), false);
    assert.equal(await provider.isGranted(second), true);
    assert.equal(await aliceCanListPods(namespace), true);
    assert.deepEqual(await managedBindingNames(namespace), [bindingNameFor(second.requestId)]);

    await provider.revoke(second);
    await until(() => provider.isGranted(second), false);
    await until(() => aliceCanListPods(namespace), false);
  });

  it('never touches a binding alice had before, and does not count it as the grant', async () => {
    const own: V1RoleBinding = {
      metadata: { name: 'alice-own-pod-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_USERS.alice }],
    };
    const created = await admin.rbac.createNamespacedRoleBinding({ namespace: otherNamespace, body: own });
    await until(() => aliceCanListPods(otherNamespace), true);
    const grant = spec({ namespace: otherNamespace });
    assert.equal((await provider.inspect(grant)).present, false, 'her own binding is not this request');
    assert.equal(await provider.isGranted(grant), false);

    await provider.grant(grant);
    await until(() => provider.isGranted(grant), true);
    await provider.revoke(grant);
    await until(() => provider.isGranted(grant), false);

    const untouched = await admin.rbac.readNamespacedRoleBinding({ name: own.metadata!.name!, namespace: otherNamespace });
    assert.equal(untouched.metadata?.resourceVersion, created.metadata?.resourceVersion);
    assert.equal(await aliceCanListPods(otherNamespace), true);
    assert.deepEqual(await managedBindingNames(otherNamespace), []);
  });

  it('grants a ClusterRole cluster-wide with a ClusterRoleBinding', async () => {
    const grant = spec({ kind: 'cluster-role', target: namespaceReader, namespace: null });
    const name = bindingNameFor(grant.requestId);
    assert.equal((await provider.inspect(grant)).resourceKey, `k8s:test-cluster/clusterrolebindings/${name}`);
    await provider.grant(grant);
    await until(() => provider.isGranted(grant), true);
    await until(() => aliceCan(() => alice.core.listNamespace()), true);
    const binding = await admin.rbac.readClusterRoleBinding({ name });
    assert.equal(binding.metadata?.labels?.['p0.dev/request-id'], grant.requestId);

    await provider.revoke(grant);
    await until(() => provider.isGranted(grant), false);
    await until(() => aliceCan(() => alice.core.listNamespace()), false);
  });

  it('binds a ClusterRole in one namespace only when the level names one', async () => {
    const grant = spec({ kind: 'cluster-role', target: namespaceReader });
    await provider.grant(grant);
    await until(() => provider.isGranted(grant), true);
    const binding = await admin.rbac.readNamespacedRoleBinding({ name: bindingNameFor(grant.requestId), namespace });
    assert.deepEqual(plain(binding.roleRef), { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: namespaceReader });
    assert.equal(await aliceCan(() => alice.core.listNamespace()), false, 'a RoleBinding never grants cluster-wide');
    await provider.revoke(grant);
    await until(() => provider.isGranted(grant), false);
  });

  it('fails an unknown role, namespace or context cleanly, leaving nothing behind', async () => {
    const cases: [Partial<GrantSpec> & { namespace?: string | null }, RegExp][] = [
      [{ target: 'no-such-role' }, new RegExp(`No Role named no-such-role in namespace ${namespace} in context ${TEST_CONTEXT}`)],
      [{ kind: 'cluster-role', target: 'no-such-cluster-role', namespace: null }, /No ClusterRole named no-such-cluster-role/],
      [{ namespace: `missing-${suffix}` }, new RegExp(`No namespace missing-${suffix}`)],
      [{ scope: { context: 'nowhere', namespace } }, /No context "nowhere" in the kubeconfig .*\(contexts: p0-test\)/],
      [{ namespace: null }, /Role lives in a namespace/],
      [{ kind: 'deployment' }, /no grant kind "deployment"/],
    ];
    for (const [overrides, message] of cases) {
      const grant = spec(overrides);
      await assert.rejects(provider.inspect(grant), (error) => error instanceof ProviderInputError && message.test(error.message), `inspect ${JSON.stringify(overrides)}`);
      await assert.rejects(provider.grant(grant), (error) => error instanceof ProviderInputError && message.test(error.message), `grant ${JSON.stringify(overrides)}`);
      const selector = `p0.dev/request-id=${requestIdLabelValue(grant.requestId)}`;
      const leftovers = [
        ...(await admin.rbac.listRoleBindingForAllNamespaces({ labelSelector: selector })).items,
        ...(await admin.rbac.listClusterRoleBinding({ labelSelector: selector })).items,
      ];
      assert.deepEqual(leftovers, [], `nothing left behind for ${JSON.stringify(overrides)}`);
      // The workflow cleans up after every failed provisioning: that must succeed, not retry forever.
      await provider.revoke(grant);
      assert.equal(await provider.isGranted(grant), false);
    }
  });

  it('refuses a role with no rules to verify, unless checks are configured', async () => {
    await admin.rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'empty' }, rules: [] } });
    await assert.rejects(provider.inspect(spec({ target: 'empty' })), /has no rules to verify a grant with/);

    // Configured checks replace the derived ones: here a check the role does not grant, so the
    // binding is made but never reported as granted.
    const strict = createKubernetesRbacProvider(settings({ checks: { 'pod-reader': [{ verb: 'delete', resource: 'pods' }] } }));
    const grant = spec();
    await strict.grant(grant);
    await until(() => provider.isGranted(grant), true);
    assert.equal(await strict.isGranted(grant), false);
    await strict.revoke(grant);
  });

  it('binds the mapped subject: a prefixed Group', async () => {
    const grouped = createKubernetesRbacProvider(settings({ subject: { kind: 'Group', prefix: 'oidc:', from: 'local-part' } }));
    const grant = spec();
    await grouped.grant(grant);
    const binding = await admin.rbac.readNamespacedRoleBinding({ name: bindingNameFor(grant.requestId), namespace });
    assert.deepEqual(plain(binding.subjects), [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'oidc:alice' }]);
    await until(() => grouped.isGranted(grant), true);
    assert.equal(await aliceCanListPods(namespace), false, 'alice is not in that group');
    await grouped.revoke(grant);
    await until(() => grouped.isGranted(grant), false);
  });

  it('reads back the subject recorded at grant time, even after the subject mapping changed', async () => {
    const grant = spec();
    const { principal } = await provider.inspect(grant);
    assert.deepEqual(principal, { subjectKind: 'User', subjectName: KUBE_USERS.alice });
    const recorded = { ...grant, recordedPrincipal: principal };
    await provider.grant(recorded);
    await until(() => provider.isGranted(recorded), true);
    // Requesters are now bound as prefixed groups: alice's binding is still this grant, and still hers.
    const remapped = createKubernetesRbacProvider(settings({ subject: { kind: 'Group', prefix: 'oidc:', from: 'local-part' } }));
    assert.equal(await remapped.isGranted(recorded), true);
    await remapped.grant(recorded);
    const binding = await admin.rbac.readNamespacedRoleBinding({ name: bindingNameFor(grant.requestId), namespace });
    assert.deepEqual(plain(binding.subjects), [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_USERS.alice }], 'a re-grant keeps the recorded subject');
    await remapped.revoke(recorded);
    await until(() => remapped.isGranted(recorded), false);
  });

  describe('marked bindings (for the reconciler)', () => {
    const podReader = { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' };
    const toAlice = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_USERS.alice }];

    it('lists exactly the bindings labelled as ours, with the exact request id, and removes one at a time', async () => {
      // An id no label can hold: the label gets the binding name, the annotation the exact id.
      const namespaced = spec({ namespace: markedNamespace, requestId: `odd/${ulid()}` });
      const clusterWide = spec({ kind: 'cluster-role', target: namespaceReader, namespace: null });
      await provider.grant(namespaced);
      await provider.grant(clusterWide);
      const namespacedName = bindingNameFor(namespaced.requestId);
      const clusterWideName = bindingNameFor(clusterWide.requestId);
      assert.notEqual(requestIdLabelValue(namespaced.requestId), namespaced.requestId);
      // Not ours: a plain binding, one another tool manages, one with our label but no request, a plain ClusterRoleBinding.
      const unmarked: Array<{ name: string; labels?: Record<string, string> }> = [
        { name: 'plain' },
        { name: 'helm-made', labels: { 'app.kubernetes.io/managed-by': 'Helm', 'p0.dev/request-id': 'req_HELM' } },
        { name: 'p0-no-request', labels: { 'app.kubernetes.io/managed-by': 'p0-jit' } },
      ];
      const created = await Promise.all(
        unmarked.map(({ name, labels }) =>
          admin.rbac.createNamespacedRoleBinding({ namespace: markedNamespace, body: { metadata: { name, labels }, roleRef: podReader, subjects: toAlice } }),
        ),
      );
      const plainClusterWide = `plain-${suffix}`;
      await admin.rbac.createClusterRoleBinding({
        body: { metadata: { name: plainClusterWide }, roleRef: { ...podReader, kind: 'ClusterRole', name: namespaceReader }, subjects: toAlice },
      });
      // The same cluster named twice (by name and as the current context), and a context the kubeconfig lacks.
      const reconciling = createKubernetesRbacProvider(settings({ contexts: [TEST_CONTEXT, undefined, 'nowhere'] }));

      const listed = await reconciling.listMarked();

      const expected: MarkedGrant[] = [
        {
          provider: 'k8s',
          requestId: namespaced.requestId,
          description: `context ${TEST_CONTEXT}: RoleBinding ${namespacedName} in namespace ${markedNamespace} (Role pod-reader for User ${KUBE_USERS.alice})`,
          ref: { context: TEST_CONTEXT, namespace: markedNamespace, kind: 'RoleBinding', name: namespacedName },
        },
        {
          provider: 'k8s',
          requestId: clusterWide.requestId,
          description: `context ${TEST_CONTEXT}: ClusterRoleBinding ${clusterWideName} (ClusterRole ${namespaceReader} for User ${KUBE_USERS.alice})`,
          ref: { context: TEST_CONTEXT, namespace: '', kind: 'ClusterRoleBinding', name: clusterWideName },
        },
      ];
      // Other tests share the API server: this test's bindings are the ones in its namespace and its two requests'.
      const mine = (grants: MarkedGrant[]) =>
        grants.filter((grant) => grant.ref.namespace === markedNamespace || [namespaced.requestId, clusterWide.requestId].includes(grant.requestId));
      assert.deepEqual(mine(listed), expected);
      const keys = listed.map((grant) => JSON.stringify(grant.ref));
      assert.equal(new Set(keys).size, keys.length, 'each binding once, however many catalog entries name its cluster');
      const listedNames = new Set(listed.map((grant) => grant.ref.name));
      for (const name of [...unmarked.map((binding) => binding.name), plainClusterWide, 'p0-jit']) assert.ok(!listedNames.has(name), `${name} is not ours`);

      await reconciling.removeMarked(expected[0]!);

      await assert.rejects(admin.rbac.readNamespacedRoleBinding({ name: namespacedName, namespace: markedNamespace }), (error: { code?: number }) => error.code === 404);
      assert.deepEqual(mine(await reconciling.listMarked()), [expected[1]]);
      assert.equal(await provider.isGranted(clusterWide), true);
      for (const [index, { name }] of unmarked.entries()) {
        const untouched = await admin.rbac.readNamespacedRoleBinding({ name, namespace: markedNamespace });
        assert.equal(untouched.metadata?.resourceVersion, created[index]!.metadata?.resourceVersion, `${name} untouched`);
      }
      await admin.rbac.readClusterRoleBinding({ name: plainClusterWide });

      await reconciling.removeMarked(expected[0]!); // already gone: still success
      await reconciling.removeMarked({ ...expected[0]!, ref: { ...expected[0]!.ref, namespace: `never-${suffix}` } }); // namespace gone: success

      await reconciling.removeMarked(expected[1]!);
      await until(() => provider.isGranted(clusterWide), false);
      assert.deepEqual(mine(await reconciling.listMarked()), []);
    });

    it('refuses to remove anything that is not a binding listMarked could have found', async () => {
      const ref = { context: TEST_CONTEXT, namespace: markedNamespace, kind: 'RoleBinding', name: 'plain-too' };
      const cases: MarkedGrant[] = [
        { provider: 'gcloud', requestId: 'x', description: '', ref },
        { provider: 'k8s', requestId: 'x', description: '', ref: { ...ref, kind: 'Pod' } },
        { provider: 'k8s', requestId: 'x', description: '', ref: { ...ref, namespace: '' } },
        { provider: 'k8s', requestId: 'x', description: '', ref: { ...ref, kind: 'ClusterRoleBinding' } },
        { provider: 'k8s', requestId: 'x', description: '', ref: { ...ref, name: '' } },
      ];
      for (const marked of cases) {
        await assert.rejects(provider.removeMarked(marked), (error) => error instanceof ProviderInputError && /Not a Kubernetes binding/.test(error.message), JSON.stringify(marked));
      }
    });

    it('fails the listing, retried and saying what RBAC to add, when the product may not list bindings', async () => {
      const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'p0-k8s-alice-')), 'kubeconfig');
      fs.writeFileSync(kubeconfig, alice.config.exportConfig());
      try {
        const unprivileged = createKubernetesRbacProvider(settings({ kubeconfig }));
        await assert.rejects(unprivileged.listMarked(), (error) => {
          assert.ok(!(error instanceof ProviderInputError), 'retried: an operator can fix the RBAC');
          assert.match((error as Error).message, /needs `list` on rolebindings and clusterrolebindings cluster-wide/);
          return true;
        });
      } finally {
        fs.rmSync(path.dirname(kubeconfig), { recursive: true, force: true });
      }
    });
  });

  async function aliceCanListPods(inNamespace: string): Promise<boolean> {
    return aliceCan(() => alice.core.listNamespacedPod({ namespace: inNamespace }));
  }

  /** Whether alice's own token is allowed the call (403 = no). */
  async function aliceCan(call: () => Promise<unknown>): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 403) return false;
      throw error;
    }
  }

  async function reviewAsAdmin(user: string, inNamespace: string, verb: string, resource: string) {
    const { status } = await admin.authorization.createSubjectAccessReview({
      body: { spec: { user, resourceAttributes: { namespace: inNamespace, verb, resource } } },
    });
    return { allowed: status?.allowed === true, reason: status?.reason };
  }

  async function managedBindingNames(inNamespace: string): Promise<string[]> {
    const { items } = await admin.rbac.listNamespacedRoleBinding({ namespace: inNamespace, labelSelector: MANAGED });
    return items.map((item) => item.metadata!.name!).sort();
  }
});

describe('Kubernetes provider pieces', () => {
  it("docs/kubernetes.md shows what npm run k8s-rbac prints for the page's own example catalog", () => {
    const markdown = fs.readFileSync(path.join(__dirname, '..', 'docs', 'kubernetes.md'), 'utf8');
    const blocks = [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    const example = blocks.find((block) => block.startsWith('catalog:\n  k8s:'));
    const shown = blocks.find((block) => /^kind: ClusterRole$/m.test(block) && /^ {2}name: p0-jit$/m.test(block));
    assert.ok(example && shown, 'the page has the example catalog and the printed RBAC');
    const config = parseConfig(`approvers: { sre: [bob@example.com], security: [sec@example.com, bob@example.com] }\n${example.replace(/^k8s:[\s\S]*$/m, '')}`, 'docs example');
    const [printed, ...more] = productRbac(config.catalog.k8s, { kind: 'ServiceAccount', namespace: 'p0', name: 'p0-jit' });
    assert.deepEqual(more, []);
    assert.deepEqual(YAML.parseAllDocuments(shown).map((document) => document.toJSON() as unknown), JSON.parse(JSON.stringify(printed!.objects)));
  });

  it('gives bind only on the catalog roles, where the catalog binds them, and nothing cluster-wide to bind without cluster-wide levels', () => {
    const [onlyNamespaced] = productRbac(
      [{ resource: 'c', levels: [{ kind: 'role', target: 'pod-reader', namespace: 'a' }, { kind: 'cluster-role', target: 'deployer', namespace: 'b' }] }],
      { kind: 'User', name: 'p0-jit' },
    );
    const clusterRole = onlyNamespaced!.objects.find((object) => object.kind === 'ClusterRole')!;
    assert.deepEqual(clusterRole.rules!.filter((rule) => rule.verbs.some((verb) => ['bind', 'create', 'update', 'escalate', '*'].includes(verb))), [
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
    const roles = onlyNamespaced!.objects.filter((object) => object.kind === 'Role');
    assert.deepEqual(
      roles.map((role) => [role.metadata.namespace, role.rules!.filter((rule) => rule.verbs.includes('bind'))]),
      [
        ['a', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['bind'], resourceNames: ['pod-reader'] }]],
        ['b', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['deployer'] }]],
      ],
    );
    // One set of objects per cluster.
    assert.deepEqual(
      productRbac([{ resource: 'x', context: 'one', levels: [] }, { resource: 'y', context: 'two', levels: [] }], { kind: 'User', name: 'p' }).map((cluster) => cluster.context),
      ['one', 'two'],
    );
  });

  it('names bindings as valid, deterministic DNS labels', () => {
    assert.equal(bindingNameFor('req_01JQ3V5K7D9X2M4N6P8R0S2T4V'), 'p0-req-01jq3v5k7d9x2m4n6p8r0s2t4v');
    assert.equal(bindingNameFor('01JQ3V5K7D9X2M4N6P8R0S2T4V'), 'p0-01jq3v5k7d9x2m4n6p8r0s2t4v');
    for (const odd of ['Req_Mixed.Case/ID', 'x'.repeat(100), '__', 'req_abc']) {
      const name = bindingNameFor(odd);
      assert.match(name, /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, odd);
      assert.equal(bindingNameFor(odd), name);
    }
    assert.notEqual(bindingNameFor('req_abc'), bindingNameFor('req_ABC'), 'ids differing in case get different names');
    assert.equal(requestIdLabelValue('req_01JQ3V5K7D9X2M4N6P8R0S2T4V'), 'req_01JQ3V5K7D9X2M4N6P8R0S2T4V');
    assert.equal(requestIdLabelValue('a/b'), bindingNameFor('a/b'));
  });

  it('maps the requester email to a subject', () => {
    assert.deepEqual(subjectFor('alice@example.com', { kind: 'User', prefix: '', from: 'email' }), { kind: 'User', name: 'alice@example.com' });
    assert.deepEqual(subjectFor('alice@example.com', { kind: 'User', prefix: 'oidc:', from: 'email' }), { kind: 'User', name: 'oidc:alice@example.com' });
    assert.deepEqual(subjectFor('alice@example.com', { kind: 'Group', prefix: '', from: 'local-part' }), { kind: 'Group', name: 'alice' });
  });

  it('derives one check per rule', () => {
    assert.deepEqual(
      checksFromRules([
        { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list'] },
        { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['update'], resourceNames: ['api'] },
        { nonResourceURLs: ['/healthz/*'], verbs: ['get'] },
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      ]),
      [
        { verb: 'get', group: '', resource: 'pods' },
        { verb: 'update', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'api' },
        { verb: 'get', nonResourceURL: '/healthz/*' },
        { verb: '*', group: '*', resource: '*' },
      ],
    );
  });

  it('recognises the authorizer citing a binding', () => {
    const plan = { name: 'p0-req-1', namespace: 'prod', roleRef: { kind: 'Role' as const, name: 'r' }, subject: { kind: 'User' as const, name: 'a' } };
    assert.equal(reasonCitesBinding('RBAC: allowed by RoleBinding "p0-req-1/prod" of Role "r" to User "a"', plan), true);
    assert.equal(reasonCitesBinding('RBAC: allowed by RoleBinding "p0-req-2/prod" of Role "r" to User "a"', plan), false);
    assert.equal(reasonCitesBinding('RBAC: allowed by ClusterRoleBinding "p0-req-1" of ClusterRole "r" to User "a"', { ...plan, namespace: undefined }), true);
    assert.equal(reasonCitesBinding(undefined, plan), false);
  });

  it('classifies API errors: bad input is final, the cluster’s trouble is retried', () => {
    const apiError = (code: number, reason: string) =>
      Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ kind: 'Status', reason, message: `${reason} happened`, code }) });
    for (const [code, reason] of [[400, 'BadRequest'], [404, 'NotFound'], [422, 'Invalid']] as const) {
      const classified = classifyKubernetesError(apiError(code, reason), 'doing x');
      assert.ok(classified instanceof ProviderInputError, `${code}`);
      assert.equal(classified.message, `Kubernetes refused doing x: ${reason}: ${reason} happened`);
    }
    for (const [code, reason] of [[401, 'Unauthorized'], [403, 'Forbidden'], [409, 'Conflict'], [429, 'TooManyRequests'], [500, 'InternalError'], [503, 'ServiceUnavailable']] as const) {
      const error = apiError(code, reason);
      assert.equal(classifyKubernetesError(error, 'doing x'), error, `${code} is retried`);
    }
    const reset = Object.assign(new Error('request to https://127.0.0.1/ failed, reason: socket hang up'), { name: 'FetchError', code: 'ECONNRESET' });
    assert.equal(classifyKubernetesError(reset, 'doing x'), reset);
  });
});

/** The client's model classes as plain objects, for deepEqual. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Polls `read` until it returns `expected` (the authorizer follows RBAC changes through a watch). */
async function until(read: () => Promise<boolean>, expected: boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await read()) === expected) return;
    if (Date.now() > deadline) throw new Error(`still ${!expected} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
