/**
 * The fault-injection infrastructure itself (issue 9), against the real peers the scenarios use:
 * toxiproxy between the AWS SDK and moto; the fault proxy in each provider's dialect in front of moto
 * (AWS SDK), the fake Resource Manager (the Google client library, built as providers/gcloud builds
 * it) and a real kube-apiserver (@kubernetes/client-node through a kubeconfig). Each fault must reach
 * the client exactly as the real provider's would, and `applied-lost` must really apply the call.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AddUserToGroupCommand,
  CreateGroupCommand,
  CreateUserCommand,
  GetGroupCommand,
  GetUserCommand,
  IAMClient,
  ListUsersCommand,
  type IAMServiceException,
} from '@aws-sdk/client-iam';
import { ListInstancesCommand, SSOAdminClient, type SSOAdminServiceException } from '@aws-sdk/client-sso-admin';
import { AuthenticationV1Api, KubeConfig, RbacAuthorizationV1Api, type ApiException, type V1RoleBinding } from '@kubernetes/client-node';
import type { ProjectsClient } from '@google-cloud/resource-manager';
import { googleFailureOf } from '../providers/gcloud/errors';
import { projectsClientFor } from '../providers/gcloud/projectIamProvider';
import { googlePurpose } from './faults/calls';
import { FaultProxy, startKubernetesFaultProxy, type FaultKind, type FaultProxyOptions } from './support/faultProxy';
import { FakeResourceManager } from './support/fakeResourceManager';
import { KUBE_USERS, sharedKubernetes, TEST_CONTEXT, type KubeClients } from './support/kubernetes';
import { bootstrapAdmin, iamClientFor, MOTO_ADMIN_BOOTSTRAP_CALLS, startMoto, type RunningMoto } from './support/moto';
import { startToxiproxy, type RunningToxiproxy, type ToxicProxy } from './support/toxiproxy';

const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** An IAM client for `endpoint` that makes exactly `maxAttempts` attempts and gives up fast on a dead link. */
function iamThrough(endpoint: string, maxAttempts = 1): IAMClient {
  return new IAMClient({ region: 'us-east-1', endpoint, credentials: CREDENTIALS, maxAttempts });
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  assert.fail('expected the call to fail, and it succeeded');
}

const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

describe('fault-injection infrastructure', function () {
  this.timeout(120_000);
  let moto: RunningMoto;
  /** Straight to moto: the truth a faulty link cannot change. */
  let direct: IAMClient;

  before(async () => {
    moto = await startMoto();
    direct = iamClientFor(moto.endpoint);
  });
  after(async () => {
    direct?.destroy();
    await moto?.stop();
  });

  describe('toxiproxy between the AWS SDK and moto', () => {
    let toxiproxy: RunningToxiproxy;
    let link: ToxicProxy;
    let iam: IAMClient;

    before(async () => {
      toxiproxy = await startToxiproxy({ seed: 9 });
      link = await toxiproxy.proxy(moto.endpoint, { name: 'moto' });
    });
    beforeEach(() => {
      iam = iamThrough(link.url);
    });
    afterEach(async () => {
      iam.destroy();
      await link.enable();
      await link.removeAllToxics();
    });
    after(() => toxiproxy?.stop());

    it('forwards calls to moto on a new loopback port', async () => {
      assert.match(link.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(link.url, moto.endpoint);
      assert.equal(link.upstream, new URL(moto.endpoint).host);
      const userName = unique('tp-user');
      await iam.send(new CreateUserCommand({ UserName: userName }));
      const { User } = await direct.send(new GetUserCommand({ UserName: userName }));
      assert.equal(User?.UserName, userName);
    });

    it('latency delays every answer by the latency, and removing it restores the speed', async () => {
      await iam.send(new ListUsersCommand({}));
      // Wide margins: other test runs may share the two cores.
      const quick = await timed(() => iam.send(new ListUsersCommand({})));
      assert.ok(quick < 1_000, `a call without toxics took ${quick} ms`);
      await link.latency({ ms: 1_500, jitter: 0 });
      const slow = await timed(() => iam.send(new ListUsersCommand({})));
      assert.ok(slow >= 1_500, `a call with 1500 ms latency took ${slow} ms`);
      await link.removeAllToxics();
      assert.deepEqual(await link.list(), []);
      const again = await timed(() => iam.send(new ListUsersCommand({})));
      assert.ok(again < 1_000, `a call after the toxic was removed took ${again} ms`);
    });

    it('reset_peer resets the connection: the call fails with ECONNRESET and is not applied', async () => {
      await link.resetPeer({ timeout: 0 }, { direction: 'upstream' });
      const userName = unique('tp-reset');
      const error = await rejection(iam.send(new CreateUserCommand({ UserName: userName })));
      assert.equal(error.code ?? (error.cause as { code?: string } | undefined)?.code, 'ECONNRESET', String(error));
      await assert.rejects(direct.send(new GetUserCommand({ UserName: userName })), { name: 'NoSuchEntityException' });
    });

    it('toxicity 0 leaves every connection alone', async () => {
      await link.resetPeer({ timeout: 0 }, { toxicity: 0 });
      for (let i = 0; i < 5; i++) await iamThrough(link.url).send(new ListUsersCommand({}));
    });

    it('disable is a full outage (connection refused) and enable ends it', async () => {
      await iam.send(new ListUsersCommand({}));
      await link.disable();
      const error = await rejection(iam.send(new ListUsersCommand({})));
      assert.equal(error.code ?? (error.cause as { code?: string } | undefined)?.code, 'ECONNREFUSED', String(error));
      await link.enable();
      await iam.send(new ListUsersCommand({}));
    });

    it('puts each helper\'s toxic on the server with its attributes, toxicity and direction', async () => {
      await link.timeout({ ms: 1500 }, { toxicity: 0.5, direction: 'upstream', name: 'hang' });
      await link.slowClose({ delay: 250 });
      await link.bandwidth({ kilobytesPerSecond: 64 }, { toxicity: 0.3 });
      const toxics = Object.fromEntries((await link.list()).map((toxic) => [toxic.type, toxic]));
      assert.deepEqual(toxics.timeout, { name: 'hang', type: 'timeout', stream: 'upstream', toxicity: 0.5, attributes: { timeout: 1500 } });
      assert.deepEqual(toxics.slow_close?.attributes, { delay: 250 });
      assert.equal(toxics.slow_close?.stream, 'downstream');
      assert.deepEqual(toxics.bandwidth?.attributes, { rate: 64 });
      assert.equal(toxics.bandwidth?.toxicity, 0.3);
      await assert.rejects(link.latency({ ms: 1 }, { toxicity: 1.5 }), /toxicity must be between 0 and 1/);
    });
  });

  describe('fault proxy, AWS dialect, in front of moto', () => {
    const proxies: FaultProxy[] = [];
    const clients: IAMClient[] = [];
    async function awsProxy(options: Omit<FaultProxyOptions, 'dialect' | 'upstream'> & { upstream?: string }): Promise<FaultProxy> {
      const proxy = await FaultProxy.start({ dialect: 'aws', upstream: moto.endpoint, ...options });
      proxies.push(proxy);
      return proxy;
    }
    function client(proxy: FaultProxy, maxAttempts = 1): IAMClient {
      const iam = iamThrough(proxy.url, maxAttempts);
      clients.push(iam);
      return iam;
    }
    afterEach(async () => {
      for (const iam of clients.splice(0)) iam.destroy();
      for (const proxy of proxies.splice(0)) await proxy.stop();
    });

    it('passes calls through untouched at rate 0, logging each with its Action', async () => {
      const proxy = await awsProxy({});
      const userName = unique('fp-user');
      await client(proxy).send(new CreateUserCommand({ UserName: userName }));
      const { User } = await client(proxy).send(new GetUserCommand({ UserName: userName }));
      assert.equal(User?.UserName, userName);
      assert.deepEqual(
        proxy.calls.map(({ operation, fault, upstreamStatus, status, mutating }) => ({ operation, fault, upstreamStatus, status, mutating })),
        [
          { operation: 'CreateUser', fault: undefined, upstreamStatus: 200, status: 200, mutating: true },
          { operation: 'GetUser', fault: undefined, upstreamStatus: 200, status: 200, mutating: false },
        ],
      );
    });

    it('keeps SigV4 signatures valid (Host forwarded as signed): a moto that enforces IAM accepts calls through it', async () => {
      const enforcing = await startMoto({ initialNoAuthActionCount: MOTO_ADMIN_BOOTSTRAP_CALLS });
      try {
        const proxy = await FaultProxy.start({ dialect: 'aws', upstream: enforcing.endpoint });
        proxies.push(proxy);
        const admin = await bootstrapAdmin(proxy.url);
        const iam = new IAMClient({ region: 'us-east-1', endpoint: proxy.url, credentials: admin, maxAttempts: 1 });
        clients.push(iam);
        const { Users } = await iam.send(new ListUsersCommand({}));
        assert.ok(Users?.some((user) => user.UserName === 'p0-test-admin'));
        // The same key with a wrong secret is refused: moto really checks the signature.
        const forged = new IAMClient({ region: 'us-east-1', endpoint: proxy.url, credentials: { ...admin, secretAccessKey: 'wrong' }, maxAttempts: 1 });
        clients.push(forged);
        await assert.rejects(forged.send(new ListUsersCommand({})), { name: 'SignatureDoesNotMatch' });
      } finally {
        await enforcing.stop();
      }
    });

    it('throttle: the SDK sees IAM\'s Throttling (400, client fault, retryable) and moto never sees the call', async () => {
      const proxy = await awsProxy({ rate: 1, kinds: ['throttle'] });
      const userName = unique('fp-throttled');
      const error = (await rejection(client(proxy).send(new CreateUserCommand({ UserName: userName })))) as unknown as IAMServiceException;
      assert.equal(error.name, 'Throttling');
      assert.equal(error.message, 'Rate exceeded');
      assert.equal(error.$fault, 'client');
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.match(error.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(proxy.calls[0]?.fault, 'throttle');
      assert.equal(proxy.calls[0]?.upstreamStatus, undefined);
      await assert.rejects(direct.send(new GetUserCommand({ UserName: userName })), { name: 'NoSuchEntityException' });
      // The SDK's standard retry treats it as throttling: with 3 attempts all three are throttled.
      await rejection(client(proxy, 3).send(new ListUsersCommand({})));
      assert.equal(proxy.callsOf('ListUsers').length, 3);
    });

    it('unavailable: the SDK sees 503 ServiceUnavailable (server fault) and its retry goes through', async () => {
      const proxy = await awsProxy({ rate: 1, kinds: ['unavailable'] });
      const error = (await rejection(client(proxy).send(new ListUsersCommand({})))) as unknown as IAMServiceException;
      assert.equal(error.name, 'ServiceUnavailable');
      assert.equal(error.$fault, 'server');
      assert.equal(error.$metadata.httpStatusCode, 503);
      proxy.setRate(0);
      proxy.failNext('unavailable');
      await client(proxy, 2).send(new ListUsersCommand({}));
      assert.deepEqual(proxy.calls.slice(1).map((call) => [call.fault, call.status]), [['unavailable', 503], [undefined, 200]]);
    });

    it('applied-lost on AddUserToGroup: the SDK sees 500 InternalFailure, yet moto has the user in the group', async () => {
      const [userName, groupName] = [unique('fp-member'), unique('fp-group')];
      await direct.send(new CreateUserCommand({ UserName: userName }));
      await direct.send(new CreateGroupCommand({ GroupName: groupName }));
      const proxy = await awsProxy({ rate: 1, kinds: ['applied-lost'], operations: ['AddUserToGroup'] });
      const iam = client(proxy);
      // Not eligible: passes.
      await iam.send(new GetUserCommand({ UserName: userName }));
      const error = (await rejection(iam.send(new AddUserToGroupCommand({ GroupName: groupName, UserName: userName })))) as unknown as IAMServiceException;
      assert.equal(error.name, 'InternalFailure');
      assert.equal(error.$fault, 'server');
      assert.equal(error.$metadata.httpStatusCode, 500);
      const { Users } = await direct.send(new GetGroupCommand({ GroupName: groupName }));
      assert.deepEqual(Users?.map((user) => user.UserName), [userName], 'the lost call was applied');
      assert.deepEqual(proxy.appliedLost().map((call) => [call.operation, call.upstreamStatus, call.status]), [['AddUserToGroup', 200, 500]]);
      assert.deepEqual(proxy.faultCounts(), { throttle: 0, unavailable: 0, 'applied-lost': 1 });

      // The SDK's retry repeats the call that already happened: the log shows it applied twice.
      await rejection(client(proxy, 2).send(new AddUserToGroupCommand({ GroupName: groupName, UserName: userName })));
      const [twice, ...others] = proxy.appliedMoreThanOnce();
      assert.equal(others.length, 0);
      assert.equal(twice?.length, 3, 'the first call and both attempts of the retried one');
      assert.ok(twice?.every((call) => call.operation === 'AddUserToGroup'));
    });

    it('names each call\'s purpose, times it, and failNextWhere faults the first call it picks', async () => {
      const [userName, groupName] = [unique('fp-purpose'), unique('fp-purpose-group')];
      await direct.send(new CreateGroupCommand({ GroupName: groupName }));
      const proxy = await awsProxy({
        classify: ({ operation }, body) => (operation === 'AddUserToGroup' ? { action: 'grant', requestId: new URLSearchParams(body).get('UserName') ?? undefined } : undefined),
      });
      proxy.failNextWhere('applied-lost', (call) => call.purpose?.action === 'grant');
      const iam = client(proxy);
      await iam.send(new CreateUserCommand({ UserName: userName }));
      await rejection(iam.send(new AddUserToGroupCommand({ GroupName: groupName, UserName: userName })));
      await iam.send(new AddUserToGroupCommand({ GroupName: groupName, UserName: userName }));
      assert.deepEqual(
        proxy.calls.map(({ operation, purpose, fault, upstreamStatus }) => ({ operation, purpose, fault, upstreamStatus })),
        [
          { operation: 'CreateUser', purpose: undefined, fault: undefined, upstreamStatus: 200 },
          { operation: 'AddUserToGroup', purpose: { action: 'grant', requestId: userName }, fault: 'applied-lost', upstreamStatus: 200 },
          { operation: 'AddUserToGroup', purpose: { action: 'grant', requestId: userName }, fault: undefined, upstreamStatus: 200 },
        ],
      );
      assert.ok(proxy.calls.every((call) => typeof call.durationMs === 'number' && call.durationMs >= 0), 'each call is timed');
    });

    it('opens one upstream connection per call with upstreamKeepAlive: false, and reuses one otherwise', async () => {
      const connectionsFor = async (upstreamKeepAlive: boolean) => {
        let connections = 0;
        const upstream = http.createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/xml' }).end('<ok/>'));
        upstream.on('connection', () => (connections += 1));
        await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
        const proxy = await awsProxy({ upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, upstreamKeepAlive });
        for (let i = 0; i < 3; i++) await fetch(`${proxy.url}/?Action=ListUsers`).then((answer) => answer.text());
        await proxy.stop();
        upstream.closeAllConnections();
        await new Promise((resolve) => upstream.close(resolve));
        return connections;
      };
      assert.equal(await connectionsFor(false), 3);
      assert.equal(await connectionsFor(true), 1);
    });

    it('answers JSON-protocol calls (IAM Identity Center) in the JSON error format', async () => {
      const proxy = await awsProxy({ rate: 1, kinds: ['throttle'] });
      const ssoAdmin = new SSOAdminClient({ region: 'us-east-1', endpoint: proxy.url, credentials: CREDENTIALS, maxAttempts: 1 });
      try {
        const error = (await rejection(ssoAdmin.send(new ListInstancesCommand({})))) as unknown as SSOAdminServiceException;
        assert.equal(error.name, 'ThrottlingException');
        assert.equal(error.message, 'Rate exceeded');
        assert.equal(error.$metadata.httpStatusCode, 400);
        assert.deepEqual(proxy.calls.map((call) => [call.operation, call.awsProtocol, call.mutating]), [['ListInstances', 'json', false]]);
      } finally {
        ssoAdmin.destroy();
      }
    });

    it('draws faults from a seeded PRNG (same seed, same faults), only on eligible calls, and setRate(0) stops them', async () => {
      const faultsOf = async (seed: number) => {
        const proxy = await awsProxy({ rate: 0.3, seed, eligible: 'mutating' });
        const iam = client(proxy);
        for (let i = 0; i < 24; i++) {
          await iam.send(new GetUserCommand({ UserName: 'no-such-user' })).catch(() => undefined);
          await iam.send(new CreateGroupCommand({ GroupName: unique('fp-seeded') })).catch(() => undefined);
        }
        assert.ok(proxy.callsOf('GetUser').every((call) => !call.eligible && call.fault === undefined), 'read-only calls are never faulted');
        return { proxy, faults: proxy.callsOf('CreateGroup').map((call) => call.fault ?? '-') };
      };
      const first = await faultsOf(42);
      const second = await faultsOf(42);
      const other = await faultsOf(7);
      assert.deepEqual(second.faults, first.faults);
      assert.notDeepEqual(other.faults, first.faults);
      const faulted = first.faults.filter((fault) => fault !== '-');
      assert.ok(faulted.length >= 2 && faulted.length <= 14, `${faulted.length} of 24 faulted at rate 0.3`);
      assert.ok(new Set(faulted).size >= 2, `the kinds are drawn among all three: ${faulted.join(',')}`);

      first.proxy.setRate(0);
      first.proxy.clearCalls();
      for (let i = 0; i < 10; i++) await client(first.proxy).send(new CreateGroupCommand({ GroupName: unique('fp-calm') }));
      assert.deepEqual(first.proxy.faultCounts(), { throttle: 0, unavailable: 0, 'applied-lost': 0 });
      assert.throws(() => first.proxy.setRate(2), /between 0 and 1/);
      assert.throws(() => first.proxy.setKinds(['slow' as FaultKind]), /unknown fault kinds slow/);
    });
  });

  describe('fault proxy, Google dialect, in front of the fake Resource Manager', () => {
    const PROJECT = 'p0-fault-project';
    let fake: FakeResourceManager;
    let proxy: FaultProxy | undefined;
    let projects: ProjectsClient | undefined;
    /** As providers/gcloud calls it: one try per call. */
    const CALL = { retry: null, timeout: 10_000 };

    before(async () => {
      fake = await FakeResourceManager.start();
    });
    beforeEach(() => fake.addProject(PROJECT, [{ role: 'roles/viewer', members: ['user:viewer@example.com'] }]));
    afterEach(async () => {
      await projects?.close();
      await proxy?.stop();
      [projects, proxy] = [undefined, undefined];
    });
    after(() => fake?.stop());

    /** The Resource Manager client exactly as the provider builds it from `gcloud.endpoint` and `gcloud.accessToken`. */
    async function through(options: Omit<FaultProxyOptions, 'dialect' | 'upstream'>): Promise<ProjectsClient> {
      proxy = await FaultProxy.start({ dialect: 'google', upstream: fake.endpoint, ...options });
      projects = projectsClientFor({ endpoint: proxy.url, accessToken: fake.token });
      return projects;
    }
    const getPolicy = (client: ProjectsClient) => client.getIamPolicy({ resource: `projects/${PROJECT}`, options: { requestedPolicyVersion: 3 } }, CALL);

    it('passes calls through at rate 0 and names each by its method', async () => {
      const client = await through({});
      const [policy] = await getPolicy(client);
      assert.deepEqual(policy.bindings?.map((binding) => binding.role), ['roles/viewer']);
      assert.deepEqual(proxy!.calls.map((call) => [call.operation, call.mutating, call.status]), [['getIamPolicy', false, 200]]);
    });

    it('throttle: the client library reports 429 RESOURCE_EXHAUSTED as Google sends it', async () => {
      const client = await through({ rate: 1, kinds: ['throttle'] });
      const seenBefore = fake.calls.length;
      const failure = googleFailureOf(await rejection(getPolicy(client)));
      assert.equal(failure.httpStatus, 429);
      assert.equal(failure.status, 'RESOURCE_EXHAUSTED');
      assert.match(failure.message, /Quota exceeded/);
      assert.equal(fake.calls.length, seenBefore, 'the fake never saw it');
    });

    it('unavailable: 503 UNAVAILABLE', async () => {
      const client = await through({ rate: 1, kinds: ['unavailable'] });
      const failure = googleFailureOf(await rejection(getPolicy(client)));
      assert.deepEqual([failure.httpStatus, failure.status], [503, 'UNAVAILABLE']);
    });

    it('applied-lost on setIamPolicy (mutating calls only): the client sees 500 INTERNAL, yet the fake holds the new policy', async () => {
      const client = await through({ rate: 1, kinds: ['applied-lost'], eligible: 'mutating', paths: /^\/v3\/projects\// });
      const [policy] = await getPolicy(client);
      const bindings = [...(policy.bindings ?? []), { role: 'roles/storage.admin', members: ['user:alice@example.com'] }];
      const failure = googleFailureOf(await rejection(client.setIamPolicy({ resource: `projects/${PROJECT}`, policy: { ...policy, bindings } }, CALL)));
      assert.deepEqual([failure.httpStatus, failure.status], [500, 'INTERNAL']);
      assert.deepEqual(
        fake.bindings(PROJECT).map((binding) => binding.role),
        ['roles/viewer', 'roles/storage.admin'],
        'the lost write was applied',
      );
      assert.deepEqual(proxy!.calls.map((call) => [call.operation, call.fault, call.upstreamStatus, call.status]), [
        ['getIamPolicy', undefined, 200, 200],
        ['setIamPolicy', 'applied-lost', 200, 500],
      ]);
    });

    it('the fault suite tells a grant from a removal in setIamPolicy by the policy it was read as', async () => {
      const client = await through({ classify: googlePurpose(fake) });
      const member = 'user:carol@example.com';
      const condition = { title: 'p0-req_PURPOSE', expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' };
      const [before] = await getPolicy(client);
      await client.setIamPolicy({ resource: `projects/${PROJECT}`, policy: { ...before, version: 3, bindings: [...(before.bindings ?? []), { role: 'roles/viewer', members: [member], condition }] } }, CALL);
      const [granted] = await getPolicy(client);
      await client.setIamPolicy({ resource: `projects/${PROJECT}`, policy: { ...granted, bindings: (granted.bindings ?? []).filter((binding) => binding.condition?.title !== condition.title) } }, CALL);
      assert.deepEqual(
        proxy!.calls.filter((call) => call.operation === 'setIamPolicy').map((call) => call.purpose),
        [{ action: 'grant', requestId: 'req_PURPOSE' }, { action: 'removal', requestId: 'req_PURPOSE' }],
      );
    });

    it('a path filter spares calls outside it', async () => {
      const client = await through({ rate: 1, kinds: ['unavailable'], paths: /^\/v1\/token/ });
      await getPolicy(client);
      assert.equal(proxy!.calls[0]?.eligible, false);
    });
  });

  describe('fault proxy, Kubernetes dialect, in front of a real kube-apiserver', () => {
    const namespace = unique('faults');
    let admin: KubeClients;
    let productKubeconfig: string;
    let proxy: FaultProxy | undefined;

    before(async function () {
      this.timeout(300_000); // the first start of the control plane in a run
      const kube = await sharedKubernetes();
      admin = kube.as(KUBE_USERS.admin);
      productKubeconfig = kube.productKubeconfig;
      await admin.core.createNamespace({ body: { metadata: { name: namespace } } });
      await admin.rbac.createNamespacedRole({
        namespace,
        body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
      });
      // The product binds pod-reader in this namespace: exactly the RBAC `npm run k8s-rbac` prints for that.
      await kube.grantProduct(`
approvers: { sre: [bob@example.com] }
catalog:
  k8s:
    - { resource: cluster, context: ${TEST_CONTEXT}, levels: [{ level: pods, kind: role, target: pod-reader, namespace: ${namespace}, approvers: [sre] }] }
`);
    });
    afterEach(async () => {
      await proxy?.stop();
      proxy = undefined;
    });

    /** The product's clients, from a kubeconfig whose context goes through a fresh fault proxy. */
    async function productThrough(options: Omit<FaultProxyOptions, 'dialect' | 'upstream'>) {
      const started = await startKubernetesFaultProxy(productKubeconfig, { ...options, context: TEST_CONTEXT });
      proxy = started.proxy;
      const config = new KubeConfig();
      config.loadFromFile(started.kubeconfig);
      config.setCurrentContext(TEST_CONTEXT);
      assert.equal(config.getCurrentCluster()?.server, proxy.url);
      return { rbac: config.makeApiClient(RbacAuthorizationV1Api), authentication: config.makeApiClient(AuthenticationV1Api) };
    }
    const bindingFor = (name: string): V1RoleBinding => ({
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice@example.com' }],
    });

    it('terminates TLS with its own certificate and forwards the bearer token: the apiserver sees the product\'s user', async () => {
      const { rbac, authentication } = await productThrough({});
      assert.match(proxy!.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const review = await authentication.createSelfSubjectReview({ body: {} });
      assert.equal(review.status?.userInfo?.username, KUBE_USERS.product);
      const name = unique('pass');
      await rbac.createNamespacedRoleBinding({ namespace, body: bindingFor(name) });
      await rbac.readNamespacedRoleBinding({ namespace, name });
      assert.deepEqual(
        proxy!.calls.map((call) => [call.operation, call.mutating, call.status]),
        [['create selfsubjectreviews', false, 201], ['create rolebindings', true, 201], ['get rolebindings', false, 200]],
      );
    });

    it('throttle: 429 TooManyRequests Status with Retry-After: 1', async () => {
      const { rbac } = await productThrough({ rate: 1, kinds: ['throttle'] });
      const error = (await rejection(rbac.listNamespacedRoleBinding({ namespace }))) as unknown as ApiException<string>;
      assert.equal(error.code, 429);
      assert.equal(error.headers['retry-after'], '1');
      const status = JSON.parse(error.body) as Record<string, unknown>;
      assert.deepEqual(
        { kind: status.kind, apiVersion: status.apiVersion, status: status.status, code: status.code, reason: status.reason },
        { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 429, reason: 'TooManyRequests' },
      );
    });

    it('unavailable: 503 ServiceUnavailable Status', async () => {
      const { rbac } = await productThrough({ rate: 1, kinds: ['unavailable'] });
      const error = (await rejection(rbac.listNamespacedRoleBinding({ namespace }))) as unknown as ApiException<string>;
      assert.equal(error.code, 503);
      assert.equal((JSON.parse(error.body) as { reason?: string }).reason, 'ServiceUnavailable');
    });

    it('applied-lost on creating a RoleBinding: the client sees 500 InternalError, yet the binding exists', async () => {
      const { rbac } = await productThrough({ rate: 1, kinds: ['applied-lost'], eligible: 'mutating' });
      const name = unique('lost');
      const error = (await rejection(rbac.createNamespacedRoleBinding({ namespace, body: bindingFor(name) }))) as unknown as ApiException<string>;
      assert.equal(error.code, 500);
      assert.equal((JSON.parse(error.body) as { reason?: string }).reason, 'InternalError');
      const created = await admin.rbac.readNamespacedRoleBinding({ namespace, name });
      assert.equal(created.metadata?.name, name, 'the lost create was applied');
      // The retry of the create now meets the binding it made: 409 AlreadyExists, also lost as a 500.
      await rejection(rbac.createNamespacedRoleBinding({ namespace, body: bindingFor(name) }));
      assert.deepEqual(proxy!.calls.map((call) => [call.operation, call.fault, call.upstreamStatus, call.status]), [
        ['create rolebindings', 'applied-lost', 201, 500],
        ['create rolebindings', 'applied-lost', 409, 500],
      ]);
      assert.equal(proxy!.appliedLost().length, 1);
      // Reads are not mutating: untouched.
      await rbac.readNamespacedRoleBinding({ namespace, name });
      assert.equal(proxy!.calls.at(-1)?.fault, undefined);
    });
  });
});

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await action();
  return Date.now() - started;
}
