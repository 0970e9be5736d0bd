/**
 * Zero standing access under faults (`npm run test:faults`; also part of `npm test`). Every scenario
 * runs real requests against all three providers at once (AWS IAM on moto, Google Cloud through
 * the real client library to the fake Resource Manager, a real kube-apiserver) while something
 * breaks between the worker and them, or under them:
 *
 * - provider-shaped HTTP errors on 30% of calls (throttling, 503, and a call applied whose reply is
 *   lost: a 500 after the change was made, so the retry repeats it), from test/support/faultProxy.ts;
 * - TCP faults from Toxiproxy (latency with jitter and connection resets; timeouts and slow closes);
 * - kill -9 of the worker with requests held at every step of provisioning (after the lease, after
 *   the grant, during verification, verified but not yet active) or of their end (after the removal,
 *   in the compensation of a failed grant, in an extension's re-provisioning), and while access is
 *   active;
 * - a restart of the Temporal server, and of the PostgreSQL database, while grants are active.
 *
 * Each provider is reached through a fault proxy (passing everything where the scenario injects
 * nothing else) that names each call a grant or a removal and for which request, so the faults that
 * landed on grants and on removals are counted, not assumed. Every request is judged straight at the
 * provider, never through the product (test/faults/judge.ts): it ended the way it must (an expiry
 * expired, a relinquish relinquished, a compensated grant failed), its grant was there whenever it
 * was sampled while the request was active, nothing of it is left (orphans), it was never held twice
 * at once nor granted again after its removal (double grants), and its audit trail is complete.
 * Scenarios that take something down also show that grants were in place and removals fell due
 * while it was down, and, for the kills, that each removal came within the documented time after
 * the worker was back. The table is printed at the end and written to $P0_FAULT_RESULTS (default: a
 * file in the temp directory).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { IAMClient } from '@aws-sdk/client-iam';
import { KubeConfig } from '@kubernetes/client-node';
import { createProviders } from '../../providers/registry';
import { providerSettings } from '../../service/providerSettings';
import { LivePolicy } from '../../service/livePolicy';
import { startDevServer, type DevServer } from '../../scripts/temporalDevServer';
import { FINAL_STATUSES, type RequestStatus, type RequestView } from '../../shared/request';
import { FakeResourceManager } from '../support/fakeResourceManager';
import { FaultProxy, startKubernetesFaultProxy, type FaultCall } from '../support/faultProxy';
import { Harness, sharedMoto } from '../support/harness';
import { createTaggedUsers, ensureCatalogObjects, holdings, newRequester } from '../support/iam';
import { iamClientFor, startMoto } from '../support/moto';
import { KUBE_USERS, sharedKubernetes, TEST_CONTEXT, type KubeClients, type RunningKubernetes } from '../support/kubernetes';
import { freePort } from '../support/net';
import { startPostgres, type RunningPostgres } from '../support/postgres';
import { sharedToxiproxy, type ToxicProxy } from '../support/toxiproxy';
import { sharedWorkflowBundleFile } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/workerProcess';
import { applied, awsPurpose, cut, GRANT, googlePurpose, KnownRequests, kubernetesPurpose, REMOVAL } from './calls';
import {
  acrossOutages,
  describeHits,
  grantCalls,
  HOLD_POINTS,
  type HoldPoint,
  type Lateness,
  judgeRequest,
  PROVIDERS,
  removalCalls,
  resultTable,
  rowFor,
  type Outage,
  type ProviderName,
  type Route,
  type Row,
  type Tracked,
} from './judge';

const BOB = 'bob@example.com';
const PROJECT = 'p0-faults-project';
const FAULT_RATE = 0.3;
/** Requests left to expire: short, so that they end within the scenario. */
const SHORT = '4s';
/** Requests relinquished at the end: long enough that they cannot expire first, so only a relinquish ends them. */
const LONG = '10m';
/** Requests of each kind (left to expire, relinquished) per provider and scenario; raise it for a longer, deeper run. */
const PAIRS = Math.max(1, Number(process.env.P0_FAULT_PAIRS ?? 2));
/**
 * What docs/reliability.md promises when a worker is killed: a removal due while it runs ends within
 * 20 s; one that fell due while no worker ran, within 20 s of a worker being back; one the killed
 * worker was making, within 40 s of a worker being back (its activity is retried once the 30-s
 * heartbeat timeout has passed).
 */
const LATENESS_BOUNDS_MS: Record<Lateness['counted'], number> = { 'on time': 20_000, 'due while down': 20_000, 'under way': 40_000 };
const LEVELS: Record<ProviderName, [string, string]> = { aws: ['admin-role', 'developers'], gcloud: ['viewer', 'editor'], k8s: ['pods', 'configmaps'] };
const RESOURCES: Record<ProviderName, string> = { aws: 'main', gcloud: 'analytics', k8s: 'cluster' };

/** The holding worker of a kill scenario: kill it (kill -9) and start another, or stop it for good. */
interface HoldingWorkers {
  killAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

interface JudgeOptions {
  /** What landed at a provider, for the table (default: the HTTP and TCP faults its proxy counted). */
  faults?: (provider: ProviderName, calls: FaultCall[]) => string;
  onGrants?: (provider: ProviderName, calls: FaultCall[]) => string;
  onRemovals?: (provider: ProviderName, calls: FaultCall[]) => string;
  /** Fails any request whose end came later than these after it was due (or after the worker was back). */
  latenessBoundsMs?: Record<Lateness['counted'], number>;
  /** Checks that the scenario's faults really landed. */
  landed?: (rows: Row[]) => void;
}

interface Endpoints {
  awsEndpointUrl: string;
  gcloudEndpoint: string;
  kubeconfig: string;
}

/** One fault proxy in front of each provider the scenario reaches (rate 0 where it injects nothing else). */
interface Links {
  proxies: Partial<Record<ProviderName, FaultProxy>>;
  endpoints: Endpoints;
  known: KnownRequests;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const sleepUntil = (at: number) => sleep(at - Date.now());
const isFinal = (request: Tracked) => request.view !== undefined && FINAL_STATUSES.includes(request.view.status);

describe('zero standing access under faults', function () {
  this.timeout(10 * 60_000);
  const rows: Row[] = [];
  let motoEndpoint: string;
  let fake: FakeResourceManager;
  let kube: RunningKubernetes;
  let admin: KubeClients;
  const namespace = `faults-${process.pid}`;
  const savedAwsEndpoint = process.env.AWS_ENDPOINT_URL;

  before(async function () {
    this.timeout(20 * 60_000); // first run builds toxiproxy and kube-apiserver
    const [{ endpoint, iam }, cluster] = await Promise.all([sharedMoto(), sharedKubernetes(), sharedToxiproxy()]).then(([moto, k]) => [moto, k] as const);
    motoEndpoint = endpoint;
    kube = cluster;
    await ensureCatalogObjects(iam);
    fake = await FakeResourceManager.start();
    fake.addProject(PROJECT, [{ role: 'roles/owner', members: ['user:owner@example.com'] }]);
    admin = kube.as(KUBE_USERS.admin);
    await admin.core.createNamespace({ body: { metadata: { name: namespace } } });
    await admin.rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
    });
    await admin.rbac
      .createClusterRole({ body: { metadata: { name: 'p0-faults-config-reader' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] } })
      .catch((error: unknown) => {
        if ((error as { code?: number }).code !== 409) throw error; // left by an earlier run on the same cluster
      });
    // The product runs with exactly the RBAC `npm run k8s-rbac` prints for this catalog.
    await kube.grantProduct(configFor(direct()));
  });

  after(async () => {
    process.env.AWS_ENDPOINT_URL = savedAwsEndpoint;
    await fake?.stop();
    const table = resultTable(rows);
    const file = process.env.P0_FAULT_RESULTS || path.join(os.tmpdir(), 'p0-fault-results.md');
    fs.writeFileSync(file, `${table}\n`);
    console.log(`\n${table}\n(written to ${file})`);
  });

  const direct = (): Endpoints => ({ awsEndpointUrl: motoEndpoint, gcloudEndpoint: fake.endpoint, kubeconfig: kube.productKubeconfig });

  function configFor(endpoints: Endpoints): string {
    const level = (name: string, kind: string, target: string, extra = '') =>
      `        - { level: ${name}, kind: ${kind}, target: ${target}, approvers: [sre], minDuration: 1s, maxDuration: 1h${extra} }`;
    return `
approvers:
  sre: [${BOB}]
admins: [sec@example.com]
approvalTimeout: 5m
verifyTimeout: 2m
reconcile: { enabled: false }
catalog:
  aws:
    - resource: main
      levels:
${level('admin-role', 'role', 'AdminRole')}
${level('developers', 'group', 'Developers')}
  gcloud:
    - resource: analytics
      project: ${PROJECT}
      levels:
${level('viewer', 'role', 'roles/viewer')}
${level('editor', 'role', 'roles/editor')}
  k8s:
    - resource: cluster
      context: ${TEST_CONTEXT}
      levels:
${level('pods', 'role', 'pod-reader', `, namespace: ${namespace}`)}
${level('configmaps', 'cluster-role', 'p0-faults-config-reader', `, namespace: ${namespace}`)}
aws:
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
gcloud:
  endpoint: ${endpoints.gcloudEndpoint}
  accessToken: ${fake.token}
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
k8s:
  kubeconfig: ${JSON.stringify(endpoints.kubeconfig)}
  subject: { kind: User, prefix: 'oidc:' }
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
`;
  }

  /**
   * A fault proxy in front of each provider: to the provider itself, or to `via` (toxiproxy's
   * listeners, for the TCP scenarios: the proxy then sees each call's connection break).
   */
  async function startLinks(
    options: { rate?: number; seed?: number; via?: Partial<Endpoints>; keepAlive?: boolean; awsUpstream?: string; only?: readonly ProviderName[] } = {},
  ): Promise<Links> {
    const known = new KnownRequests();
    const { rate = 0, seed = 1, via = {}, keepAlive = true, only = PROVIDERS } = options;
    const common = { rate, upstreamKeepAlive: keepAlive };
    const proxies: Partial<Record<ProviderName, FaultProxy>> = {};
    const endpoints = direct();
    try {
      if (only.includes('aws')) {
        proxies.aws = await FaultProxy.start({ ...common, dialect: 'aws', upstream: via.awsEndpointUrl ?? options.awsUpstream ?? motoEndpoint, seed, classify: awsPurpose(known) });
        endpoints.awsEndpointUrl = proxies.aws.url;
      }
      if (only.includes('gcloud')) {
        proxies.gcloud = await FaultProxy.start({ ...common, dialect: 'google', upstream: via.gcloudEndpoint ?? fake.endpoint, seed: seed + 1, classify: googlePurpose(fake) });
        endpoints.gcloudEndpoint = proxies.gcloud.url;
      }
      if (only.includes('k8s')) {
        const k8s = await startKubernetesFaultProxy(via.kubeconfig ?? kube.productKubeconfig, { ...common, context: TEST_CONTEXT, seed: seed + 2, classify: kubernetesPurpose(known) });
        proxies.k8s = k8s.proxy;
        endpoints.kubeconfig = k8s.kubeconfig;
      }
    } catch (error) {
      await Promise.all(Object.values(proxies).map((proxy) => proxy.stop()));
      throw error;
    }
    return {
      proxies,
      endpoints,
      known,
      stop: async () => {
        process.env.AWS_ENDPOINT_URL = motoEndpoint;
        await Promise.all(Object.values(proxies).map((proxy) => proxy.stop()));
      },
    };
  }

  /** How many grants the provider holds for this request right now, read straight from it. */
  async function heldAtProvider(h: Harness, request: Tracked): Promise<number> {
    switch (request.provider) {
      case 'aws': {
        const held = await holdings(request.iam ?? h.iam, request.userName!);
        return request.level === 'admin-role' ? held.inlinePolicies.filter((name) => name === `p0-${request.id}`).length : held.groups.filter((group) => group === 'Developers').length;
      }
      case 'gcloud':
        return fake
          .bindings(PROJECT)
          .filter((binding) => binding.condition?.title === `p0-${request.id}`)
          .reduce((sum, binding) => sum + binding.members.filter((member) => member.toLowerCase() === `user:${request.requester}`).length, 0);
      case 'k8s': {
        const selector = { labelSelector: 'app.kubernetes.io/managed-by=p0-jit' };
        const [roleBindings, clusterRoleBindings] = await Promise.all([
          admin.rbac.listNamespacedRoleBinding({ namespace, ...selector }),
          admin.rbac.listClusterRoleBinding(selector),
        ]);
        return [...roleBindings.items, ...clusterRoleBindings.items].filter((binding) => binding.metadata?.annotations?.['p0.dev/request-id'] === request.id).length;
      }
    }
  }

  /**
   * One scenario's requests, sampled in the background from the first approval to the judgement:
   * every 250 ms each request not yet ended is read through the API, and while it says `active` the
   * provider is read straight, noting when the read began and ended.
   */
  class Run {
    readonly requests: Tracked[] = [];
    readonly outages: Outage[] = [];
    private counter = 0;
    private sampling: Promise<void> | undefined;
    private stopped = false;
    /** Where the holding worker finds its orders (kill scenarios). */
    holdDir: string | undefined;

    constructor(
      readonly name: string,
      readonly h: Harness,
      readonly links: Links,
      /** The IAM the AWS requesters' users are made in and judged at. */
      private readonly iam: IAMClient = h.iam,
    ) {}

    /** A pending request for `provider` (levels alternate), with its own requester. */
    async add(provider: ProviderName, options: { duration: string; expected: Route; hold?: HoldPoint; extended?: boolean }): Promise<Tracked> {
      const level = LEVELS[provider][this.requests.filter((request) => request.provider === provider).length % 2]!;
      let requester = `${provider}-${process.pid}-${Date.now()}-${++this.counter}@example.com`;
      let userName: string | undefined;
      if (provider === 'aws') ({ email: requester, userName } = await newRequester(this.iam, 'faults'));
      const created = await this.h.request(requester, { provider, resource: RESOURCES[provider], level, reason: 'fault suite', duration: options.duration });
      const request: Tracked = {
        provider,
        id: created.id,
        requester,
        userName,
        iam: provider === 'aws' ? this.iam : undefined,
        level,
        expected: options.expected,
        hold: options.hold,
        extended: options.extended,
        relinquish: { answers: [] },
        samples: [],
        view: created,
      };
      this.links.known.add(request.id, userName);
      if (options.hold && options.hold !== 'extension') this.arm(request, options.hold);
      this.requests.push(request);
      return request;
    }

    /** `count` requests for each provider. */
    async addEach(providers: readonly ProviderName[], count: number, options: Parameters<Run['add']>[1]): Promise<Tracked[]> {
      const added: Tracked[] = [];
      for (const provider of providers) for (let i = 0; i < count; i++) added.push(await this.add(provider, options));
      return added;
    }

    arm(request: Tracked, point: HoldPoint): void {
      assert.ok(this.holdDir, 'arming a request needs the holding worker');
      fs.writeFileSync(path.join(this.holdDir, `armed-${request.id}`), point);
    }

    async approve(requests: readonly Tracked[]): Promise<void> {
      this.startSampling();
      for (const request of requests) await retrying(() => this.h.act(BOB, request.id, 'approve'), 'approve');
    }

    /** Waits until each request's view (kept by the sampler) is in one of `statuses`. */
    async waitFor(requests: readonly Tracked[], statuses: readonly RequestStatus[], timeoutMs = 3 * 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!requests.every((request) => statuses.includes(request.view!.status))) {
        if (Date.now() > deadline) {
          const late = requests.filter((request) => !statuses.includes(request.view!.status));
          assert.fail(`${this.name}: ${late.map((request) => `${request.id} (${request.provider}) ${request.view!.status}`).join(', ')} did not reach ${statuses.join('|')} in ${timeoutMs} ms`);
        }
        await sleep(100);
      }
    }

    waitActive(requests: readonly Tracked[]): Promise<void> {
      return this.waitFor(requests, ['active', ...FINAL_STATUSES]);
    }

    /** Waits until each active request has been read at the provider at least once since it became active. */
    async sampledActive(requests: readonly Tracked[], timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const unsampled = () =>
        requests.filter((request) => request.view?.status === 'active' && !request.samples.some((sample) => sample.from >= Date.parse(request.view!.activeAt!)));
      while (unsampled().length > 0) {
        if (Date.now() > deadline) assert.fail(`${this.name}: never sampled while active: ${unsampled().map((request) => request.id).join(', ')}`);
        await sleep(50);
      }
    }

    /** Asks to relinquish each request (all at once), retrying a call whose answer was lost; every answer is kept for the judge. */
    async relinquish(requests: readonly Tracked[]): Promise<void> {
      await Promise.all(
        requests.map(async (request) => {
          request.relinquish.sentAt ??= Date.now();
          for (let attempt = 0; attempt < 30; attempt++) {
            const answer = await this.h.act(request.requester, request.id, 'relinquish').catch(() => undefined);
            const error = answer?.body.error;
            request.relinquish.answers.push({ status: answer?.status ?? 0, code: error?.code, message: error?.message });
            if (answer && answer.status < 500) return;
            await sleep(1000);
          }
        }),
      );
    }

    /** Asks for one more minute and has it approved; `hold` arms the request for the re-provisioning first. */
    async extend(request: Tracked, hold?: HoldPoint): Promise<void> {
      const asked = await this.h.call<{ request?: RequestView; error?: unknown }>(request.requester, 'POST', `/v1/requests/${request.id}/extend`, { duration: '1m' });
      const pending = asked.body.request?.pendingExtension;
      assert.ok(asked.status === 200 && pending, `extend ${request.id}: ${asked.status} ${JSON.stringify(asked.body)}`);
      if (hold) this.arm(request, hold);
      const approved = await this.h.act(BOB, request.id, 'approve', undefined, pending.id);
      assert.equal(approved.status, 200, `approve the extension of ${request.id}: ${JSON.stringify(approved.body)}`);
    }

    /** Waits until every request armed to hold has reached its step. */
    async holdsReached(requests: readonly Tracked[], timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const missing = () => requests.filter((request) => !fs.existsSync(path.join(this.holdDir!, `reached-${request.id}`)));
      while (missing().length > 0) {
        if (Date.now() > deadline) assert.fail(`${this.name}: not held in ${timeoutMs} ms: ${missing().map((request) => `${request.id} (${request.provider}) at ${request.hold}, now ${request.view?.status}`).join(', ')}`);
        await sleep(100);
      }
    }

    /** Waits for every request to end. */
    waitEnded(timeoutMs = 4 * 60_000): Promise<void> {
      return this.waitFor(this.requests, FINAL_STATUSES, timeoutMs);
    }

    /** The earliest expiry still ahead of now among `requests` (active ones). */
    nextExpiry(requests: readonly Tracked[]): number {
      const ahead = requests.map((request) => Date.parse(request.view?.expiresAt ?? '')).filter((at) => at > Date.now() + 300);
      assert.ok(ahead.length > 0, `${this.name}: no expiry left ahead to time the outage by`);
      return Math.min(...ahead);
    }

    private startSampling(): void {
      this.sampling ??= (async () => {
        while (!this.stopped) {
          await Promise.all(this.requests.filter((request) => !isFinal(request)).map((request) => this.sample(request)));
          await sleep(250);
        }
      })();
    }

    private async sample(request: Tracked): Promise<void> {
      const answer = await this.h.call<{ request?: RequestView }>(request.requester, 'GET', `/v1/requests/${request.id}`).catch(() => undefined);
      if (!answer?.body.request) return; // the API could not read it (its database is down): keep the last view
      request.view = answer.body.request;
      if (request.view.status !== 'active') return;
      const from = Date.now();
      const held = await heldAtProvider(this.h, request);
      request.samples.push({ from, to: Date.now(), held });
    }

    /**
     * Judges each request at the provider, with faults off, and adds a row per provider. `faults`
     * says what else landed at a provider (kills, outages); `landed` checks the scenario's faults
     * really happened. Fails the test on any problem.
     */
    async judge(options: JudgeOptions = {}): Promise<Row[]> {
      this.stopped = true;
      await this.sampling;
      const problems: string[] = [];
      const scenarioRows: Row[] = [];
      for (const provider of PROVIDERS) {
        const mine = this.requests.filter((request) => request.provider === provider);
        if (mine.length === 0) continue;
        const calls = this.links.proxies[provider]?.calls;
        const verdicts = [];
        for (const request of mine) {
          const answer = await this.h.call<{ request?: RequestView }>(request.requester, 'GET', `/v1/requests/${request.id}`);
          request.view = answer.body.request ?? request.view;
          const verdict = judgeRequest(request, { view: request.view, events: await this.h.requests.events(request.id), heldAtEnd: await heldAtProvider(this.h, request), calls, outages: this.outages });
          const { lateness } = verdict;
          if (options.latenessBoundsMs && lateness && lateness.ms > options.latenessBoundsMs[lateness.counted]) {
            verdict.problems.push(`${request.id} (${provider}) ended ${lateness.ms} ms late (${lateness.counted}), past ${options.latenessBoundsMs[lateness.counted]} ms`);
          }
          verdicts.push(verdict);
        }
        const { activeThrough, dueDuring } = acrossOutages(mine, this.outages);
        const row = rowFor(this.name, provider, verdicts, {
          faults: options.faults?.(provider, calls ?? []) ?? (calls ? describeHits(calls).text : 'no proxy'),
          onGrants: options.onGrants?.(provider, calls ?? []) ?? (calls ? describeHits(grantCalls(calls)).text : '-'),
          onRemovals: options.onRemovals?.(provider, calls ?? []) ?? (calls ? describeHits(removalCalls(calls)).text : '-'),
          whileDown: this.outages.length ? `${activeThrough.length} in place, ${dueDuring.length} due` : '-',
        });
        // Nothing exercised is no proof: the provider must have seen grants and removals applied.
        if (calls && !grantCalls(calls).some(applied)) problems.push(`${provider}: no grant reached the provider`);
        if (calls && !removalCalls(calls).some(applied)) problems.push(`${provider}: no removal reached the provider`);
        problems.push(...verdicts.flatMap((verdict) => verdict.problems));
        scenarioRows.push(row);
      }
      rows.push(...scenarioRows);
      if (this.outages.length > 0) {
        const { activeThrough, dueDuring } = acrossOutages(this.requests, this.outages);
        if (activeThrough.length === 0) problems.push('no grant was in place while the component was down');
        if (dueDuring.length === 0) problems.push('no removal fell due while the component was down');
      }
      // The reconciler, run now, must agree: nothing of these requests is left anywhere.
      const report = await this.h.reconcile({ dryRun: true });
      const ids = new Set(this.requests.map((request) => request.id));
      const leftover = report.orphans.filter((orphan) => ids.has(orphan.requestId));
      if (leftover.length > 0) problems.push(`the reconciler still finds ${JSON.stringify(leftover)}`);
      assert.deepEqual(problems, [], `${this.name}:\n${problems.join('\n')}`);
      options.landed?.(scenarioRows);
      return scenarioRows;
    }
  }

  /**
   * The common shape: requests to relinquish, made active first; then requests left to expire;
   * `during` breaks something (or not); then the relinquishes, and the wait for every end.
   */
  async function standard(run: Run, options: { providers?: readonly ProviderName[]; pairs?: number; during?: (groups: { long: Tracked[]; short: Tracked[] }) => Promise<void> } = {}): Promise<void> {
    const providers = options.providers ?? PROVIDERS;
    const pairs = options.pairs ?? PAIRS;
    const long = await run.addEach(providers, pairs, { duration: LONG, expected: 'relinquished' });
    await run.approve(long);
    await run.waitActive(long);
    const short = await run.addEach(providers, pairs, { duration: SHORT, expected: 'expired' });
    await run.approve(short);
    await run.waitActive(short);
    await options.during?.({ long, short });
    const left = long.filter((request) => request.relinquish.sentAt === undefined);
    await run.sampledActive(left);
    await run.relinquish(left);
    await run.waitEnded();
  }

  /** The holding worker (test/faults/holdingWorker.ts) as a real process, and the orders it reads. */
  async function holdingWorker(run: Run): Promise<HoldingWorkers> {
    run.holdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-hold-'));
    const env = { P0_HOLD_DIR: run.holdDir, P0_WORKFLOW_BUNDLE: await sharedWorkflowBundleFile() };
    let worker = await startWorkerProcess(run.h, 'test/faults/holdingWorker.ts', env);
    return {
      killAndRestart: async () => {
        const from = Date.now();
        await worker.kill('SIGKILL');
        worker = await startWorkerProcess(run.h, 'test/faults/holdingWorker.ts', env);
        run.outages.push({ from, to: Date.now() });
      },
      stop: async () => {
        await worker.kill('SIGKILL');
        fs.rmSync(run.holdDir!, { recursive: true, force: true });
      },
    };
  }

  /** What the kill caught, per provider: the requests held at each step of granting and of removing, and how long the worker was down. */
  function killedHolding(run: Run): Pick<JudgeOptions, 'faults' | 'onGrants' | 'onRemovals'> {
    const holds = (provider: ProviderName, points: readonly HoldPoint[]) =>
      run.requests.filter((request) => request.provider === provider && request.hold && points.includes(request.hold)).map((request) => request.hold!);
    const caught = (calls: FaultCall[], points: string[]) => `${calls.length} calls${points.length ? `; killed holding ${points.length}: ${points.join(', ')}` : ''}`;
    return {
      faults: (provider) => `worker killed once (down ${describeOutages(run)}) holding ${holds(provider, HOLD_POINTS).length} requests`,
      onGrants: (provider, calls) => caught(grantCalls(calls), holds(provider, ['lease', 'grant', 'verify', 'verified', 'extension'])),
      onRemovals: (provider, calls) => caught(removalCalls(calls), holds(provider, ['revoke', 'compensation'])),
    };
  }

  it('grants re-applied after their requests ended are found and removed by the reconciler', async () => {
    const links = await startLinks();
    const h = await Harness.start(configFor(links.endpoints), { awsEndpointUrl: links.endpoints.awsEndpointUrl });
    try {
      const run = new Run('no faults (baseline)', h, links);
      await standard(run);
      await run.judge({ faults: () => 'none' });

      // What slips past the workflow: the same grant applied again at the provider after the
      // request ended (a zombie worker's late call, a script, a restore), with the product's marker.
      // Applied straight at the provider, so the proxies see only what the product does about it.
      // (The AWS provider takes its endpoint from the SDK's environment, the proxy's until now.)
      process.env.AWS_ENDPOINT_URL = motoEndpoint;
      const zombie = createProviders(providerSettings(LivePolicy.fromText(configFor(direct()), 'direct.yaml').current().config));
      const leases = await h.leases.recordedGrants(new Date(Date.now() - 3_600_000).toISOString());
      const trails = new Map<string, string>();
      let reapplied = 0;
      const callsBefore = Object.fromEntries(PROVIDERS.map((provider) => [provider, links.proxies[provider]!.calls.length]));
      for (const request of run.requests) {
        const lease = leases.find((candidate) => candidate.requestId === request.id);
        assert.ok(lease, `no lease recorded for ${request.id}`);
        trails.set(request.id, JSON.stringify(await h.requests.events(request.id)));
        await zombie.get(request.provider)!.grant(lease.spec);
        request.samples = [{ from: Date.now(), to: Date.now(), held: await heldAtProvider(h, request) }];
        if (request.samples[0]!.held > 0) reapplied += 1;
      }
      process.env.AWS_ENDPOINT_URL = links.endpoints.awsEndpointUrl;
      for (const provider of PROVIDERS) assert.equal(links.proxies[provider]!.calls.length, callsBefore[provider], `${provider}: the re-applied grants went straight to the provider`);
      assert.equal(reapplied, run.requests.length, 'every grant read back after it was applied again');
      const before = Object.fromEntries(PROVIDERS.map((provider) => [provider, links.proxies[provider]!.calls.length]));
      const report = await h.reconcile();
      for (const provider of PROVIDERS) {
        const mine = run.requests.filter((request) => request.provider === provider);
        const removals = removalCalls(links.proxies[provider]!.calls.slice(before[provider])).filter(applied);
        const notes: string[] = [];
        let orphans = 0;
        let endedCorrectly = 0;
        let auditGaps = 0;
        for (const request of mine) {
          const found = report.orphans.find((orphan) => orphan.requestId === request.id);
          if (found?.action !== 'revoked' || (await heldAtProvider(h, request)) > 0) {
            orphans += 1;
            notes.push(`${request.id} left: ${JSON.stringify(found)}`);
          }
          const view = (await h.call<{ request: RequestView }>(request.requester, 'GET', `/v1/requests/${request.id}`)).body.request;
          if (view.status === request.expected) endedCorrectly += 1;
          else notes.push(`${request.id} now ${view.status}`);
          if (JSON.stringify(await h.requests.events(request.id)) !== trails.get(request.id)) {
            auditGaps += 1;
            notes.push(`${request.id}: its audit trail changed`);
          }
        }
        const row: Row = {
          scenario: 'grant re-applied after the request ended, then one reconciler pass',
          provider,
          faults: `each ended grant applied again straight at the provider: ${mine.filter((request) => request.samples[0]!.held > 0).length} of ${mine.length} read back`,
          onGrants: '-',
          onRemovals: `${removals.length} removals applied by the reconciler`,
          whileDown: '-',
          requests: mine.length,
          endedBy: `${endedCorrectly} still ${[...new Set(mine.map((request) => request.expected))].join('/')}`,
          endedCorrectly,
          seenGranted: '-',
          orphans,
          doubleGrants: mine.filter((request) => request.samples[0]!.held > 1).length,
          auditGaps,
          latestEnd: '-',
          notes: notes.join('; '),
        };
        rows.push(row);
        assert.deepEqual(notes, [], row.notes);
        assert.ok(removals.length >= mine.length, `${provider}: the reconciler's removals reached the provider: ${removals.length}`);
      }
    } finally {
      await h.stop();
      await links.stop();
    }
  });

  it('provider errors on 30% of calls: throttling, 503, applied-but-reply-lost 500', async () => {
    // A seed each (P0_FAULT_SEED shifts them all): the same seed would draw the same faults at every provider.
    const links = await startLinks({ rate: FAULT_RATE, seed: Number(process.env.P0_FAULT_SEED ?? 9) });
    const proxies = Object.values(links.proxies);
    for (const proxy of proxies) {
      // Besides the random draws, the first grant and the first removal of a request at each
      // provider are applied and their replies lost: the retry meets what already happened.
      proxy.failNextWhere('applied-lost', (call) => call.purpose?.action === GRANT && call.purpose.requestId !== undefined);
      proxy.failNextWhere('applied-lost', (call) => call.purpose?.action === REMOVAL && call.purpose.requestId !== undefined);
    }
    const h = await Harness.start(configFor(links.endpoints), { awsEndpointUrl: links.endpoints.awsEndpointUrl });
    try {
      const run = new Run('HTTP errors, 30% of calls', h, links);
      await standard(run);
      for (const proxy of proxies) proxy.setRate(0);
      await run.judge({
        landed: () => {
          for (const provider of PROVIDERS) {
            const proxy = links.proxies[provider]!;
            const counts = proxy.faultCounts();
            assert.ok(counts.throttle > 0 && counts.unavailable > 0 && counts['applied-lost'] > 0, `${provider}: ${JSON.stringify(counts)}`);
            const lostApplied = (calls: FaultCall[]) => calls.filter((call) => call.fault === 'applied-lost' && applied(call)).length;
            assert.ok(lostApplied(grantCalls(proxy.calls)) > 0, `${provider}: no grant was applied with its reply lost`);
            assert.ok(lostApplied(removalCalls(proxy.calls)) > 0, `${provider}: no removal was applied with its reply lost`);
          }
        },
      });
    } finally {
      await h.stop();
      await links.stop();
    }
  });

  it('provider errors on 30% of calls with 1,000 IAM users: every request becomes active', async () => {
    // Finding a requester's IAM user by tag reads every user's tags; this account is big enough that
    // a scan which one failed call sinks would (almost) never complete. Its own moto, so the other
    // scenarios keep scanning a small account.
    const users = Number(process.env.P0_FAULT_IAM_USERS ?? 1000);
    const seed = Number(process.env.P0_FAULT_SEED ?? 9) + 3;
    const moto = await startMoto();
    const iam = iamClientFor(moto.endpoint);
    let links: Links | undefined;
    let h: Harness | undefined;
    try {
      await ensureCatalogObjects(iam);
      const fillMs = await createTaggedUsers(iam, 'staff', users);
      links = await startLinks({ rate: FAULT_RATE, seed, awsUpstream: moto.endpoint, only: ['aws'] });
      const aws = links.proxies.aws!;
      h = await Harness.start(configFor(links.endpoints), { awsEndpointUrl: links.endpoints.awsEndpointUrl });
      const startedAt = Date.now();
      const run = new Run(`${users} IAM users, HTTP errors on 30% of calls`, h, links, iam);
      await standard(run, { providers: ['aws'], pairs: 3 });
      aws.setRate(0);
      await run.judge({
        faults: (_provider, calls) => {
          const tagReads = aws.callsOf('ListUserTags');
          return `${users} users; ${describeHits(calls).text} (${tagReads.filter((call) => call.fault).length} of ${tagReads.length} ListUserTags)`;
        },
        landed: () => assert.ok(aws.callsOf('ListUserTags').some((call) => call.fault), 'faults hit the tag scan'),
      });
      console.log(`      (${users} users made in ${fillMs} ms; the scenario took ${Date.now() - startedAt} ms)`);
    } finally {
      await h?.stop();
      await links?.stop();
      iam.destroy();
      await moto.stop();
    }
  });

  for (const tcp of [
    {
      name: 'TCP latency (150 +- 100 ms) and connection resets (30%)',
      apply: async (proxy: ToxicProxy) => {
        await proxy.latency({ ms: 150, jitter: 100 });
        await proxy.resetPeer({ timeout: 50 }, { toxicity: FAULT_RATE });
      },
    },
    {
      name: 'TCP timeouts (30%, 1.5 s) and slow closes',
      apply: async (proxy: ToxicProxy) => {
        await proxy.timeout({ ms: 1500 }, { toxicity: FAULT_RATE });
        await proxy.slowClose({ delay: 300 });
      },
    },
  ]) {
    it(tcp.name, async () => {
      const toxiproxy = await sharedToxiproxy();
      const toxic = { aws: await toxiproxy.proxy(motoEndpoint), gcloud: await toxiproxy.proxy(fake.endpoint), k8s: await toxiproxy.proxy(kube.server) };
      // The fault proxies (passing everything) in front of Toxiproxy see each call's connection break;
      // one connection per call, so that Toxiproxy draws its 30% for every call.
      const links = await startLinks({
        keepAlive: false,
        via: { awsEndpointUrl: toxic.aws.urlFor('http'), gcloudEndpoint: toxic.gcloud.urlFor('http'), kubeconfig: kubeconfigVia(kube.productKubeconfig, toxic.k8s.urlFor('https')) },
      });
      const h = await Harness.start(configFor(links.endpoints), { awsEndpointUrl: links.endpoints.awsEndpointUrl });
      try {
        for (const proxy of Object.values(toxic)) await tcp.apply(proxy);
        const run = new Run(tcp.name, h, links);
        await standard(run);
        for (const proxy of Object.values(toxic)) await proxy.removeAllToxics();
        await run.judge({
          faults: (_provider, calls) => {
            const durations = calls.map((call) => call.durationMs ?? 0).sort((a, b) => a - b);
            return `${describeHits(calls).text}; median answer ${durations[Math.floor(durations.length / 2)] ?? 0} ms`;
          },
          landed: () => {
            for (const provider of PROVIDERS) assert.ok(links.proxies[provider]!.calls.some(cut), `${provider}: no connection was cut`);
            const onSteps = PROVIDERS.flatMap((provider) => [...grantCalls(links.proxies[provider]!.calls), ...removalCalls(links.proxies[provider]!.calls)]);
            assert.ok(onSteps.some(cut), 'no grant or removal call had its connection cut');
          },
        });
      } finally {
        await h.stop();
        await links.stop();
        for (const proxy of Object.values(toxic)) await proxy.remove();
      }
    });
  }

  /**
   * A kill scenario with the holding worker: `body` makes requests and holds some at their steps; the
   * test then ends every request and judges them, with the lateness bounds.
   */
  async function holdingScenario(name: string, body: (run: Run, workers: HoldingWorkers) => Promise<void>): Promise<void> {
    const links = await startLinks();
    const h = await Harness.start(configFor(links.endpoints), { withWorker: false, awsEndpointUrl: links.endpoints.awsEndpointUrl });
    const run = new Run(name, h, links);
    const workers = await holdingWorker(run);
    try {
      await body(run, workers);
      await run.waitEnded();
      await run.judge({ ...killedHolding(run), latenessBoundsMs: LATENESS_BOUNDS_MS });
    } finally {
      await workers.stop();
      await h.stop();
      await links.stop();
    }
  }

  /**
   * Makes one more request per provider active and kills the worker just before the first of them is
   * due to end (so that removal falls due while no worker runs), with `held` still at their steps.
   */
  async function killJustBeforeAccessIsDue(run: Run, workers: HoldingWorkers, held: readonly Tracked[], stillHeld: (request: Tracked) => boolean): Promise<void> {
    const short = await run.addEach(PROVIDERS, 1, { duration: SHORT, expected: 'expired' });
    await run.approve(short);
    await run.waitActive(short);
    await sleepUntil(run.nextExpiry(short) - 400);
    const moved = held.filter((request) => !stillHeld(request));
    assert.deepEqual(moved.map((request) => `${request.id} ${request.view?.status}`), [], 'every held request is still at its step when the worker is killed');
    await workers.killAndRestart();
  }

  it('kill -9 of the worker holding requests at every step of provisioning', () =>
    holdingScenario('kill -9 mid-provisioning', async (run, workers) => {
      const long = await run.addEach(PROVIDERS, 1, { duration: LONG, expected: 'relinquished' });
      await run.approve(long);
      await run.waitActive(long);
      const held: Tracked[] = [];
      for (const hold of ['lease', 'grant', 'verify'] as const) held.push(...(await run.addEach(PROVIDERS, 1, { duration: SHORT, expected: 'expired', hold })));
      // Held after verification, its access clock started then: it becomes active only once the new
      // worker records it, so it is a long one, relinquished (a short one would be due at once).
      const verified = await run.addEach(PROVIDERS, 1, { duration: LONG, expected: 'relinquished', hold: 'verified' });
      held.push(...verified);
      await run.approve(held);
      await run.holdsReached(held);
      await killJustBeforeAccessIsDue(run, workers, held, (request) => request.view?.status === 'provisioning');
      await run.waitActive(verified);
      await run.sampledActive(verified);
      await run.relinquish([...long, ...verified]);
    }));

  it('kill -9 of the worker holding removals: after the removal, in a compensation, in an extension', () =>
    holdingScenario('kill -9 mid-removal', async (run, workers) => {
      const long = await run.addEach(PROVIDERS, 1, { duration: LONG, expected: 'relinquished' });
      const extended = await run.addEach(PROVIDERS, 1, { duration: LONG, expected: 'relinquished', extended: true, hold: 'extension' });
      const removed = await run.addEach(PROVIDERS, 1, { duration: SHORT, expected: 'expired', hold: 'revoke' });
      const compensated = await run.addEach(PROVIDERS, 1, { duration: LONG, expected: 'failed', hold: 'compensation' });
      await run.approve([...long, ...extended, ...removed]);
      await run.waitActive([...long, ...extended]);
      await run.approve(compensated);
      for (const request of extended) await run.extend(request, 'extension');
      await run.holdsReached([...extended, ...removed, ...compensated]);
      await killJustBeforeAccessIsDue(run, workers, [...extended, ...removed, ...compensated], (request) => !isFinal(request));
      await run.sampledActive([...long, ...extended]);
      await run.relinquish([...long, ...extended]);
    }));

  it('kill -9 of the worker while access is active, restarted after it was due to end', async () => {
    const links = await startLinks();
    const h = await Harness.start(configFor(links.endpoints), { withWorker: false, awsEndpointUrl: links.endpoints.awsEndpointUrl });
    let worker: WorkerProcess | undefined = await startWorkerProcess(h);
    try {
      const run = new Run('kill -9 while active', h, links);
      await standard(run, {
        during: async ({ long, short }) => {
          await sleepUntil(run.nextExpiry(short) - 400);
          const from = Date.now();
          await worker!.kill('SIGKILL');
          worker = undefined;
          // Relinquished while no worker runs: the updates wait in Temporal.
          const relinquishing = run.relinquish(long);
          const latestEnd = Math.max(...short.map((request) => Date.parse(request.view?.expiresAt ?? '') || 0));
          await sleepUntil(latestEnd + 1000);
          worker = await startWorkerProcess(h);
          run.outages.push({ from, to: Date.now() });
          await relinquishing;
        },
      });
      await run.judge({
        faults: () => `worker down ${describeOutages(run)}, across every expiry`,
        latenessBoundsMs: LATENESS_BOUNDS_MS,
      });
    } finally {
      await worker?.kill('SIGKILL');
      await h.stop();
      await links.stop();
    }
  });

  it('a restart of the Temporal server while grants are active', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-temporal-restart-'));
    const port = await freePort();
    const serverOptions = { port, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') };
    let server: DevServer | undefined = await startDevServer(serverOptions);
    const links = await startLinks();
    const h = await Harness.start(configFor(links.endpoints), { temporalAddress: server.address, awsEndpointUrl: links.endpoints.awsEndpointUrl });
    try {
      const run = new Run('Temporal server restart', h, links);
      await standard(run, {
        during: async ({ short }) => {
          const due = run.nextExpiry(short);
          await sleepUntil(due - 400);
          const from = Date.now();
          await server!.stop();
          server = undefined;
          assert.equal(await reachable(port), false, 'the Temporal server still answers while it is to be down');
          await sleepUntil(Math.max(due + 1000, from + 2000));
          server = await startDevServer(serverOptions);
          run.outages.push({ from, to: Date.now() });
        },
      });
      await run.judge({ faults: () => `server down ${describeOutages(run)}` });
    } finally {
      await h.stop();
      await server?.stop();
      await links.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a restart of the PostgreSQL database while grants are active', async function () {
    this.timeout(20 * 60_000); // may install PostgreSQL on a first run
    let postgres: RunningPostgres | undefined;
    let h: Harness | undefined;
    const links = await startLinks();
    try {
      // Durable, as in production: the restart below is a crash (immediate stop), and committed writes must survive it.
      postgres = await startPostgres({ durable: true });
      const databaseWarnings: string[] = [];
      const record = (message: string) => databaseWarnings.push(message);
      h = await Harness.start(configFor(links.endpoints), {
        databaseUrl: postgres.url,
        databaseLogger: { warn: record, error: record, debug: () => undefined },
        awsEndpointUrl: links.endpoints.awsEndpointUrl,
      });
      const pg = postgres;
      const run = new Run('PostgreSQL restart', h, links);
      await standard(run, {
        during: async ({ short }) => {
          const due = run.nextExpiry(short);
          await sleepUntil(due - 400);
          const from = Date.now();
          await pg.restart({ downMs: Math.max(2000, due + 1000 - from) });
          run.outages.push({ from, to: Date.now() });
        },
      });
      await run.judge({ faults: () => `database crashed, down ${describeOutages(run)}` });
      // The outage reached the product, and its database warnings came through the logger, a line each.
      assert.ok(databaseWarnings.some((message) => message.startsWith('Acquire connection error')), databaseWarnings.join('\n'));
      assert.deepEqual(databaseWarnings.filter((message) => message.includes('\n')), []);
    } finally {
      await h?.stop();
      await postgres?.stop();
      await links.stop();
    }
  });
});

function describeOutages(run: { outages: readonly Outage[] }): string {
  return run.outages.map((outage) => `${((outage.to - outage.from) / 1000).toFixed(1)} s`).join(', ');
}

/** The same kubeconfig, its cluster reached at `server` (a TCP proxy: the apiserver's own TLS passes through). */
function kubeconfigVia(kubeconfigPath: string, server: string): string {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const clusterName = config.getContextObject(TEST_CONTEXT)!.cluster;
  const clusters = config.clusters.map((cluster) => (cluster.name === clusterName ? { ...cluster, server } : cluster));
  const moved = new KubeConfig();
  moved.loadFromOptions({ clusters, users: config.users, contexts: config.contexts, currentContext: config.currentContext });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'p0-kubeconfig-')), 'config');
  fs.writeFileSync(file, moved.exportConfig());
  return file;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** API calls made while a worker is down may time out or be refused for a moment: try again. */
async function retrying(call: () => Promise<{ status: number }>, what: string): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 30; attempt++) {
    const answer = await call().catch((error: unknown) => ({ status: 0, error }));
    if (answer.status >= 200 && answer.status < 300) return;
    last = answer;
    await sleep(1000);
  }
  throw new Error(`${what} kept failing: ${JSON.stringify(last)}`);
}
