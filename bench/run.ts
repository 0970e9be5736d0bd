/**
 * `npm run bench`: what the product adds on top of Temporal and the cloud, measured side by side in
 * one run (machines here are shared and noisy, so ratios taken in the same run are the figures that
 * mean something). Prints a table and writes bench/results.json. See docs/performance.md.
 *
 * This process only drives load and watches, as a client would: the product runs in its own
 * process (`npm start`'s scripts/start.ts; for the scale figure bench/noopWorker.ts and `npm run api`),
 * and so does the bare baseline's worker (bench/bareWorker.ts). It sees the product through the API
 * (every HTTP status checked: a refused call ends the run at once) and, for whole lifecycles, through
 * Temporal's workflow results, as it sees the bare workflow. Real peers throughout: the Temporal dev
 * server and moto for IAM.
 *
 * Every size is a BENCH_* variable (bench/settings.ts); `npm run bench -- --quick` runs every phase
 * small, `npm run bench -- --trace` prints one request's steps from approve to active.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ListUserTagsCommand, paginateListUsers, type IAMClient } from '@aws-sdk/client-iam';
import type { RequestView } from '../shared/request';
import { sharedMoto } from '../test/support/harness';
import { ensureCatalogObjects, holdings } from '../test/support/iam';
import { createIamUser } from '../test/support/moto';
import { sharedTemporal } from '../test/support/temporal';
import { ACTION } from '../bots/slack/blockKit';
import { FAKE_TEAM_ID, FakeSlack, SlackEventsClient, type FakeMessage, type FakeSlackUser } from '../test/support/fakeSlack';
import { cpuSince, cpuSnapshot, describeCpu, type CpuUse } from './cpu';
import { BenchHttpError } from './api';
import { bareApprove } from './bareWorkflow';
import { benchSettings, type BenchSettings, type Phase } from './settings';
import { BENCH_ADMIN, BENCH_APPROVER, processRss, startBareWorker, startProduct, type Product, type ProductOptions } from './services';
import { fetchHistoryEvents, traceLines } from './trace';

const CONFIG = (approval: 'human' | 'auto') => `
approvers:
  sre: [${BENCH_APPROVER}]
admins: [${BENCH_ADMIN}]
approvalTimeout: 1h
verifyTimeout: 2m
resources:
  - { provider: aws, kind: group, target: Developers, approvers: [sre], minDuration: 1s, maxDuration: 2h }
${approval === 'auto' ? 'autoApproval:\n  - { name: bench, levels: ["*"] }\n' : ''}aws:
  propagation: { settleDelay: 0s, consecutiveReads: 1, pollInterval: 100ms }
${process.env.BENCH_USER_INDEX_REFRESH ? `  userIndex: { refreshAfter: ${process.env.BENCH_USER_INDEX_REFRESH}, maxStale: ${process.env.BENCH_USER_INDEX_REFRESH} }\n` : ''}`;

const grantBody = (durationSeconds: number) => ({ provider: 'aws', kind: 'group', target: 'Developers', reason: 'bench', duration: `${durationSeconds}s` });

interface Figure {
  name: string;
  value: string;
  target: string;
  met?: boolean;
  detail?: Record<string, unknown>;
}

interface Requester {
  email: string;
  userName: string;
}

/** What every phase shares: the settings, Temporal (for workflow results and histories) and moto. */
interface Bench {
  settings: BenchSettings;
  temporalAddress: string;
  client: Client;
  iam: IAMClient;
}

const figures: Figure[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const startedAt = Date.now();
  const settings = benchSettings();
  const [temporal, { iam }] = await Promise.all([sharedTemporal(), sharedMoto()]);
  const connection = await Connection.connect({ address: temporal.address });
  const bench: Bench = { settings, temporalAddress: temporal.address, client: new Client({ connection }), iam };
  log(
    `API_RATE_LIMIT_PER_MINUTE=${settings.apiRateLimitPerMinute} for the bench's API process (BENCH_API_RATE_LIMIT; the product's default is 600, raised here on purpose: ` +
      `the status watcher and the one approver call far more often than a person; any 429 fails the run)`,
  );
  if (settings.traceOnly) {
    await trace(bench);
    await connection.close();
    process.exit(0);
  }
  const wants = (phase: Phase) => settings.phases.includes(phase);
  let failed = false;
  try {
    if (wants('overhead') || wants('lateness') || wants('throughput') || wants('scan')) {
      await ensureCatalogObjects(iam);
      // The IAM fixture keeps the size the earlier tables were measured with: one user per overhead
      // request, per lateness request and per throughput lifecycle on each side (~1,400 in the full
      // run); the product's tag scan reads every one of them.
      const fixtureSize = settings.overheadRequests + settings.latenessRequests + settings.throughputSizes.reduce((sum, size) => sum + 2 * size, 0);
      const users = await makeUsers(iam, 'bench', fixtureSize);
      const overheadUsers = users.splice(0, settings.overheadRequests);
      const latenessUsers = users.splice(0, settings.latenessRequests);
      if (wants('scan')) failed = (await phase('IAM tag scan', () => measureTagScan(bench, fixtureSize))) || failed;
      if (wants('overhead') || wants('lateness') || wants('throughput')) {
        const product = await startProduct(productOptions(bench, { configYaml: CONFIG('human'), emails: [...overheadUsers, ...latenessUsers, ...users].map((user) => user.email) }));
        try {
          // One lifecycle first, not counted: the worker's first workflow and the first IAM tag scan
          // are start-up costs, paid once per process (the recurring scan is its own figure).
          const warmUp = overheadUsers[0] ?? latenessUsers[0] ?? users[0];
          if (warmUp) failed = (await phase('warm-up', () => warmUpLifecycle(product, warmUp))) || failed;
          if (wants('overhead')) failed = (await phase('approval -> active overhead', () => measureOverhead(bench, product, overheadUsers))) || failed;
          if (wants('lateness')) {
            for (const seconds of settings.latenessSeconds) {
              failed = (await phase(`revocation lateness (${seconds}-s grants)`, () => measureLateness(bench, product, latenessUsers, seconds))) || failed;
            }
          }
          if (wants('throughput')) failed = (await phase('lifecycle throughput', () => measureThroughput(bench, product, users))) || failed;
        } finally {
          await product.stop();
        }
      }
    }
    if (wants('chat')) failed = (await phase('chat acknowledgement', () => measureChatAcknowledgement(bench))) || failed;
    if (wants('scale')) failed = (await phase('scale', () => measureScale(bench))) || failed;
  } catch (error) {
    // A refused HTTP call (BenchHttpError) ends the run: every later figure would be wrong the same way.
    failed = true;
    log(`stopped: ${error instanceof Error ? error.message : String(error)}`);
    figures.push({ name: 'run stopped', value: error instanceof Error ? error.message.split('\n')[0]! : String(error), target: '', met: false });
  }
  report(settings, Date.now() - startedAt);
  await connection.close();
  if (failed) console.error('bench: FAILED (see the failed rows above and the [bench] lines on stderr)');
  process.exit(failed ? 1 : 0);
}

/**
 * Runs one part of the benchmark; a failure is reported in the table instead of losing the rest,
 * except a refused HTTP call, which is rethrown to end the run. Returns whether it failed.
 */
async function phase(name: string, run: () => Promise<void>): Promise<boolean> {
  const startedAt = Date.now();
  try {
    await run();
    log(`${name}: done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    return false;
  } catch (error) {
    if (error instanceof BenchHttpError) throw new BenchHttpError(`${name}: ${error.message}`, { cause: error });
    log(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    figures.push({ name: `${name}: failed`, value: error instanceof Error ? error.message.split('\n')[0]! : String(error), target: '', met: false });
    return true;
  }
}

function productOptions(bench: Bench, options: Pick<ProductOptions, 'configYaml' | 'emails' | 'env' | 'workerEntry'> & { shape?: ProductOptions['shape'] }): ProductOptions {
  const { settings } = bench;
  return {
    ...options,
    temporalAddress: bench.temporalAddress,
    client: bench.client,
    shape: options.shape ?? settings.productShape,
    rateLimitPerMinute: settings.apiRateLimitPerMinute,
    pollMs: settings.pollMs,
    waitTimeoutMs: settings.waitTimeoutMs,
    logLevel: settings.productLogLevel,
  };
}

/** Create, wait until the API shows `pending` (the workflow has recorded the request), then approve. */
async function createAndApprove(product: Product, user: Requester, durationSeconds: number): Promise<{ id: string; approveSentAt: number }> {
  const created = await product.api.create(product.token(user.email), grantBody(durationSeconds));
  await product.watcher.waitFor(created.id, ['pending']);
  const approveSentAt = Date.now();
  await product.api.act(product.approverToken, created.id, 'approve');
  return { id: created.id, approveSentAt };
}

async function warmUpLifecycle(product: Product, user: Requester): Promise<void> {
  const { id } = await createAndApprove(product, user, 3600);
  await product.watcher.waitFor(id, ['active']);
  await product.api.act(product.token(user.email), id, 'relinquish');
  await product.watcher.waitFor(id, ['relinquished']);
}

/** Approve call -> the API shows `active`, with the provider's propagation wait at zero (settle 0, one read-back). */
async function measureOverhead(bench: Bench, product: Product, users: Requester[]): Promise<void> {
  const { overheadAtOnce } = bench.settings;
  log(`approval -> active overhead: ${users.length} requests, ${overheadAtOnce} at a time`);
  const samples: number[] = [];
  const internal: number[] = [];
  const cpuStart = cpuSnapshot();
  await inBatches(users, overheadAtOnce, async (user) => {
    const { id, approveSentAt } = await createAndApprove(product, user, 3600);
    const active = await product.watcher.waitFor(id, ['active']);
    samples.push(active.seenAt - approveSentAt);
    internal.push(Date.parse(active.activeAt!) - approveSentAt);
    await product.api.act(product.token(user.email), id, 'relinquish');
  });
  const cpu = cpuSince(cpuStart);
  log(`  CPU: ${describeCpu(cpu, users.length)} (create, approve, active, relinquish)`);
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  const detail = { requests: samples.length, pollMs: bench.settings.pollMs, workflowActiveAtP50: percentile(internal, 50), workflowActiveAtP99: percentile(internal, 99), cpu };
  figures.push({ name: 'approval -> active overhead p50 (API shows active)', value: ms(p50), target: '< 250 ms', met: p50 < 250, detail });
  figures.push({ name: 'approval -> active overhead p99 (API shows active)', value: ms(p99), target: '< 1 s', met: p99 < 1000, detail });
  figures.push({ name: "  the same to the workflow's activeAt, p50 / p99", value: `${ms(detail.workflowActiveAtP50)} / ${ms(detail.workflowActiveAtP99)}`, target: '(reported)' });
}

/**
 * `expiresAt` -> the membership really gone at IAM (polled every 25 ms). Requests arrive at a steady
 * rate (one every BENCH_LATENESS_EVERY_MS), so expiries are spread as real ones are; 2-s grants end
 * while later requests are still being provisioned, 60-s grants after their own start-up is over.
 */
async function measureLateness(bench: Bench, product: Product, users: Requester[], durationSeconds: number): Promise<void> {
  const { latenessEveryMs } = bench.settings;
  log(`revocation lateness: ${users.length} requests of ${durationSeconds} s, one every ${latenessEveryMs} ms`);
  const samples: number[] = [];
  await Promise.all(
    users.map(async (user, index) => {
      await sleep(index * latenessEveryMs);
      const { id } = await createAndApprove(product, user, durationSeconds);
      // A short grant may already have ended by the time the watcher looks.
      const active = await product.watcher.waitFor(id, ['active', 'expired']);
      const expiresAtMs = Date.parse(active.expiresAt!);
      await sleep(Math.max(0, expiresAtMs - Date.now()));
      const deadline = Date.now() + bench.settings.waitTimeoutMs;
      while ((await holdings(bench.iam, user.userName)).groups.includes('Developers')) {
        if (Date.now() > deadline) throw new Error(`${id}: ${user.userName} still in Developers ${bench.settings.waitTimeoutMs / 1000} s after expiry`);
        await sleep(25);
      }
      samples.push(Date.now() - expiresAtMs);
    }),
  );
  const p99 = percentile(samples, 99);
  const detail = { requests: samples.length, everyMs: latenessEveryMs, max: Math.max(...samples) };
  figures.push({ name: `revocation lateness p50, ${durationSeconds}-s grants`, value: ms(percentile(samples, 50)), target: '(reported)', detail });
  figures.push({ name: `revocation lateness p99, ${durationSeconds}-s grants`, value: ms(p99), target: '< 1 s', met: p99 < 1000, detail });
}

/**
 * N requests at once through create -> approve -> expired (1 s of access), beside the bare workflow
 * of the same shape, alternating product and bare runs (ABAB...) BENCH_REPEATS times per size. Both
 * sides are awaited the same way: the workflow's result from Temporal.
 */
async function measureThroughput(bench: Bench, product: Product, users: Requester[]): Promise<void> {
  const { client, settings } = bench;
  const bareTaskQueue = `${product.taskQueue}-bare`;
  const bareWorker = await startBareWorker(bench.temporalAddress, bareTaskQueue);
  try {
    for (const size of settings.throughputSizes) {
      // The same users in every repeat: each lifecycle has ended (access removed) before the next run.
      const ours = users.splice(0, size);
      const bare = users.splice(0, size);
      const runs: Array<{ productMs: number; bareMs: number; ratio: number; productCpu: CpuUse; bareCpu: CpuUse }> = [];
      for (let repeat = 1; repeat <= settings.repeats; repeat += 1) {
        log(`throughput: ${size} at once, repeat ${repeat}/${settings.repeats}: product, then bare`);
        const productCpuStart = cpuSnapshot();
        const productMs = await timed(() =>
          Promise.all(
            ours.map(async (user) => {
              const { id } = await createAndApprove(product, user, 1);
              const final = await withDeadline(client.workflow.getHandle(id).result() as Promise<RequestView>, settings.waitTimeoutMs, `${id}'s workflow result`);
              if (final.status !== 'expired') throw new Error(`${id} ended ${final.status}, not expired: ${JSON.stringify(final.error ?? {})}`);
            }),
          ),
        );
        const productCpu = cpuSince(productCpuStart);
        const bareCpuStart = cpuSnapshot();
        const bareMs = await timed(() =>
          Promise.all(
            bare.map(async (user, index) => {
              const handle = await client.workflow.start('bareGrant', {
                taskQueue: bareTaskQueue,
                workflowId: `bare-${Date.now()}-${repeat}-${index}`,
                args: [user.userName, 'Developers', 1],
              });
              await handle.signal(bareApprove);
              await withDeadline(handle.result(), settings.waitTimeoutMs, `${handle.workflowId}'s result`);
            }),
          ),
        );
        const bareCpu = cpuSince(bareCpuStart);
        runs.push({ productMs, bareMs, ratio: bareMs / productMs, productCpu, bareCpu });
        log(`  product ${ms(productMs)}, bare ${ms(bareMs)}: ${(bareMs / productMs).toFixed(2)}x`);
        log(`    product CPU: ${describeCpu(productCpu, size)}`);
        log(`    bare CPU:    ${describeCpu(bareCpu, size)}`);
      }
      const ratios = runs.map((run) => run.ratio);
      const median = percentile(ratios, 50);
      const productRate = size / (percentile(runs.map((run) => run.productMs), 50) / 1000);
      const bareRate = size / (percentile(runs.map((run) => run.bareMs), 50) / 1000);
      figures.push({
        name: `lifecycle throughput, ${size} at once (median of ${runs.length}, ABAB)`,
        value: `${median.toFixed(2)}x bare (spread ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); ${productRate.toFixed(1)}/s vs bare ${bareRate.toFixed(1)}/s`,
        target: '>= 0.8x bare Temporal',
        met: size === 1 ? undefined : median >= 0.8,
        detail: { runs },
      });
    }
  } finally {
    await bareWorker.stop();
  }
}

/**
 * One full tag scan as the product makes it every aws.userIndex.refreshAfter (10 min) and on a
 * miss: ListUsers (every page) and one ListUserTags per user, BENCH_SCAN_CONCURRENCY at a time, against the bench's moto
 * while nothing else calls it. Three scans; the median is the figure.
 */
async function measureTagScan(bench: Bench, fixtureSize: number): Promise<void> {
  const scans: Array<{ ms: number; pages: number; users: number }> = [];
  for (let scan = 0; scan < 3; scan += 1) {
    const startedAt = Date.now();
    let pages = 0;
    let users = 0;
    for await (const page of paginateListUsers({ client: bench.iam }, {})) {
      pages += 1;
      const names = (page.Users ?? []).map((user) => user.UserName!);
      users += names.length;
      for (let start = 0; start < names.length; start += bench.settings.scanConcurrency) {
        await Promise.all(names.slice(start, start + bench.settings.scanConcurrency).map((userName) => bench.iam.send(new ListUserTagsCommand({ UserName: userName, MaxItems: 100 }))));
      }
    }
    scans.push({ ms: Date.now() - startedAt, pages, users });
  }
  const median = percentile(
    scans.map((scan) => scan.ms),
    50,
  );
  const { pages, users } = scans[0]!;
  figures.push({
    name: `IAM tag scan, ${users} users (bench fixture ${fixtureSize})`,
    value: `${ms(median)} (${pages} ListUsers pages + ${users} ListUserTags, ${bench.settings.scanConcurrency} at a time)`,
    target: '(reported: a full scan, made every 10 min (aws.userIndex.refreshAfter) and on a miss)',
    detail: { scans },
  });
}

/**
 * Slack's 3-second rule: N signed Approve clicks at once (each on its own pending request), timed
 * from the HTTP request to the app's acknowledgement. The approval itself runs after the ack.
 */
async function measureChatAcknowledgement(bench: Bench): Promise<void> {
  const clicks = bench.settings.chatClicks;
  log(`chat acknowledgement: ${clicks} concurrent signed Slack clicks`);
  const botToken = 'xoxb-bench';
  const signingSecret = 'bench-signing-secret';
  const approver: FakeSlackUser = { id: 'U0BOB', email: BENCH_APPROVER, name: 'bob' };
  const requesters = range(clicks).map((index): FakeSlackUser => ({ id: `U0R${index}`, email: `chat-${process.pid}-${index}@example.com` }));
  const fake = await FakeSlack.start({ botToken, users: [approver, ...requesters] });
  try {
    // The Slack app believes only its pinned workspace: the fake Slack's.
    const product = await startProduct(
      productOptions(bench, {
        configYaml: `${CONFIG('human')}slack:\n  teamId: ${FAKE_TEAM_ID}\n`,
        emails: requesters.map((user) => user.email),
        env: { SLACK_BOT_TOKEN: botToken, SLACK_SIGNING_SECRET: signingSecret, SLACK_API_URL: fake.apiUrl },
      }),
    );
    try {
      const ids = await Promise.all(requesters.map(async (user) => (await product.api.create(product.token(user.email), grantBody(3600))).id));
      const messages = await Promise.all(ids.map((id) => waitForMessage(fake, approver, id)));
      const slack = new SlackEventsClient(`${product.api.url}/slack/events`, signingSecret);
      const answers = await Promise.all(messages.map((message) => slack.interaction(fake.clickButton(approver, message, ACTION.approve))));
      const refused = answers.filter((answer) => answer.status !== 200);
      if (refused.length > 0) throw new BenchHttpError(`${refused.length} of ${clicks} Slack clicks were answered ${refused.map((answer) => answer.status).join(', ')}, not 200`);
      // The approvals run after the acks: let them land before the product is stopped (these
      // requesters have no IAM user, so provisioning fails: that is not what is measured here).
      await Promise.all(ids.map((id) => product.watcher.waitFor(id, ['approved', 'provisioning', 'active', 'failed'])));
      const samples = answers.map((answer) => answer.elapsedMs);
      const p99 = percentile(samples, 99);
      figures.push({
        name: `Slack click acknowledgement p99 (${clicks} at once)`,
        value: ms(p99),
        target: '< 3 s (Slack shows an error after 3 s)',
        met: p99 < 3000,
        detail: { p50: percentile(samples, 50) },
      });
    } finally {
      await product.stop();
    }
  } finally {
    await fake.stop();
  }
}

async function waitForMessage(fake: FakeSlack, user: FakeSlackUser, requestId: string): Promise<FakeMessage> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = fake.messagesIn(fake.dmChannelOf(user.id)).find((message) => message.text.includes(requestId));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no approver message for ${requestId}`);
    await sleep(100);
  }
}

/**
 * N concurrently active grants on one worker process (the product's worker with a provider that
 * grants nothing, bench/noopWorker.ts; the API in its own process): the worker's RSS, sampled every
 * 500 ms: peak over the step (bringing grants up, then BENCH_SCALE_SETTLE_S with all active) and
 * steady (the median over the settle window), plus the history size per request.
 */
async function measureScale(bench: Bench): Promise<void> {
  const { settings, client } = bench;
  const total = Math.max(...settings.scaleSteps);
  const emails = range(total).map((index) => `scale-${index}@example.com`);
  const expiringEmails = range(settings.scaleExpiring).map((index) => `scale-expiring-${index}@example.com`);
  log(`scale: issuing ${emails.length + expiringEmails.length} tokens, then starting the no-op worker and the API`);
  const product = await startProduct(
    productOptions(bench, { configYaml: CONFIG('auto'), emails: [...emails, ...expiringEmails], shape: 'split', workerEntry: 'bench/noopWorker.ts' }),
  );
  const startedAt = Date.now();
  let created = 0;
  let rssSamples: number[] = [];
  const sampler = setInterval(() => {
    try {
      rssSamples.push(processRss(product.worker.pid));
    } catch {
      // the worker has gone; the next wait says so
    }
  }, 500);
  try {
    for (const step of [...settings.scaleSteps].sort((a, b) => a - b)) {
      if (Date.now() - startedAt > settings.scaleBudgetMs) {
        figures.push({ name: `scale: ${step} active grants`, value: 'not run', target: '(BENCH_SCALE_BUDGET_S)', detail: { budgetSeconds: settings.scaleBudgetMs / 1000 } });
        continue;
      }
      log(`scale: bringing active grants to ${step}`);
      rssSamples = [];
      const stepStartedAt = Date.now();
      const ids: string[] = [];
      await inBatches(range(step - created), settings.scaleAtOnce, async (index) => {
        const view = await product.api.create(product.token(emails[created + index]!), grantBody(7200));
        ids.push(view.id);
      });
      created = step;
      await waitUntilActive(bench, product, step);
      const activeAfterMs = Date.now() - stepStartedAt;
      const settleFrom = rssSamples.length;
      await sleep(settings.scaleSettleMs);
      const steady = percentile(rssSamples.slice(settleFrom), 50);
      const peak = Math.max(...rssSamples);
      const histories = await Promise.all(
        ids.slice(0, 20).map(async (id) => {
          const info = (await client.workflow.getHandle(id).describe()).raw.workflowExecutionInfo;
          return { bytes: Number(info?.historySizeBytes ?? 0), events: Number(info?.historyLength ?? 0) };
        }),
      );
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
      const historyBytes = mean(histories.map((history) => history.bytes));
      const historyEvents = mean(histories.map((history) => history.events));
      figures.push({
        name: `scale: ${step} active grants`,
        value: `worker RSS steady ${mb(steady)}, peak ${mb(peak)}; history ${(historyBytes / 1024).toFixed(1)} KiB, ${historyEvents.toFixed(0)} events/request`,
        target: step >= 10_000 ? '< 1 GiB RSS' : '(growth)',
        met: step >= 10_000 ? peak < 1024 ** 3 : undefined,
        detail: { steadyRssBytes: steady, peakRssBytes: peak, historyBytesPerRequest: historyBytes, historyEventsPerRequest: historyEvents, activeAfterMs },
      });
    }
    if (expiringEmails.length > 0 && created > 0) {
      rssSamples = [];
      await measureExpiryInBunch(bench, product, expiringEmails, created);
      const peak = Math.max(...rssSamples);
      const figure = figures[figures.length - 1]!;
      figure.value += `; worker RSS peak ${mb(peak)}`;
      figure.detail = { ...figure.detail, peakRssBytes: peak };
    }
  } finally {
    clearInterval(sampler);
    await product.stop();
  }
}

/**
 * Beside the `active` grants of the last scale step, N more grants that start together (`startAt`)
 * and so expire together: each one's lateness is its `endedAt` (the workflow recorded it expired,
 * access removed and checked) minus its `expiresAt`, read from the API once all have ended, so no
 * polling runs while they expire. The no-op provider removes nothing: this is the product and
 * Temporal carrying the bunch, not the cloud.
 */
async function measureExpiryInBunch(bench: Bench, product: Product, emails: string[], active: number): Promise<void> {
  const { settings } = bench;
  const seconds = settings.scaleExpiringSeconds;
  const startAtMs = Date.now() + Math.max(30_000, emails.length * 100);
  log(`scale: ${emails.length} grants of ${seconds} s starting together at +${Math.round((startAtMs - Date.now()) / 1000)} s, beside ${active} active`);
  const ids = new Set<string>();
  await inBatches(emails, settings.scaleAtOnce, async (email) => {
    const view = await product.api.create(product.token(email), { ...grantBody(seconds), startAt: new Date(startAtMs).toISOString() });
    ids.add(view.id);
  });
  const lateStarts = Date.now() > startAtMs;
  await sleep(Math.max(0, startAtMs + seconds * 1000 - Date.now()));
  const deadline = Date.now() + settings.waitTimeoutMs;
  let ended: RequestView[];
  for (;;) {
    const [expired, failed] = await Promise.all([product.api.list(product.adminToken, 'expired'), product.api.list(product.adminToken, 'failed')]);
    const failedOurs = failed.filter((view) => ids.has(view.id));
    if (failedOurs.length > 0) throw new Error(`${failedOurs.length} expiring grants failed, e.g. ${failedOurs[0]!.id}: ${JSON.stringify(failedOurs[0]!.error ?? {})}`);
    ended = expired.filter((view) => ids.has(view.id));
    if (ended.length === ids.size) break;
    if (Date.now() > deadline) throw new Error(`only ${ended.length} of ${ids.size} bunched grants expired in time (BENCH_WAIT_TIMEOUT_S)`);
    await sleep(2000);
  }
  const samples = ended.map((view) => Date.parse(view.endedAt!) - Date.parse(view.expiresAt!));
  const p99 = percentile(samples, 99);
  const bare = await bareExpiryInBunch(bench, product.taskQueue, emails.length);
  figures.push({
    name: `scale: ${ids.size} expiring together beside ${active} active`,
    value: `revocation lateness p50 ${ms(percentile(samples, 50))}, p99 ${ms(p99)} (workflow's endedAt); bare Temporal, same bunch: p50 ${ms(percentile(bare, 50))}, p99 ${ms(percentile(bare, 99))}`,
    target: '< 1 s p99',
    met: p99 < 1000,
    detail: { max: Math.max(...samples), createdAfterStartAt: lateStarts, bareP50: percentile(bare, 50), bareP99: percentile(bare, 99), bareMax: Math.max(...bare) },
  });
}

/**
 * The same bunch as bare Temporal carries it, on the same server with the product's grants still
 * parked there: N workflows timing out together, each then running a no-op removal and read-back
 * (bench/bareWorkflow.ts `bareExpiry`). Each one's lateness is its close time minus the expiry.
 */
async function bareExpiryInBunch(bench: Bench, taskQueue: string, count: number): Promise<number[]> {
  const { client, settings } = bench;
  const bareTaskQueue = `${taskQueue}-bare-expiry`;
  const worker = await startBareWorker(bench.temporalAddress, bareTaskQueue);
  try {
    const expiresAtMs = Date.now() + Math.max(30_000, count * 20);
    log(`scale: the same bunch on bare Temporal: ${count} timers ending together at +${Math.round((expiresAtMs - Date.now()) / 1000)} s`);
    const handles = await Promise.all(
      range(count).map((index) => client.workflow.start('bareExpiry', { taskQueue: bareTaskQueue, workflowId: `bare-expiry-${expiresAtMs}-${index}`, args: [expiresAtMs] })),
    );
    return await Promise.all(
      handles.map(async (handle) => {
        await withDeadline(handle.result(), Math.max(0, expiresAtMs - Date.now()) + settings.waitTimeoutMs, `${handle.workflowId}'s result`);
        const closedAt = (await handle.describe()).closeTime;
        return closedAt!.getTime() - expiresAtMs;
      }),
    );
  } finally {
    await worker.stop();
  }
}

/** Asks the API (as an admin) how many requests are active, every 5 s: one large answer, not N small ones. */
async function waitUntilActive(bench: Bench, product: Product, count: number): Promise<void> {
  const deadline = Date.now() + Math.max(bench.settings.waitTimeoutMs, count * 200);
  for (;;) {
    const [active, failed] = await Promise.all([product.api.list(product.adminToken, 'active'), product.api.list(product.adminToken, 'failed')]);
    if (failed.length > 0) throw new Error(`${failed.length} scale requests failed, e.g. ${failed[0]!.id}: ${JSON.stringify(failed[0]!.error ?? {})}`);
    if (active.length >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${active.length} of ${count} grants became active`);
    await sleep(Math.min(5000, 500 + count));
  }
}

/**
 * `--trace`: one request (after a first one has warmed the worker and the IAM caches) from the
 * approve call to the API showing `active`, step by step from its event history.
 */
async function trace(bench: Bench): Promise<void> {
  await ensureCatalogObjects(bench.iam);
  const users = await makeUsers(bench.iam, 'trace', 2);
  const product = await startProduct(productOptions(bench, { configYaml: CONFIG('human'), emails: users.map((user) => user.email) }));
  try {
    let traced: { id: string; approveSentAt: number; activeSeenAt: number } | undefined;
    for (const user of users) {
      const { id, approveSentAt } = await createAndApprove(product, user, 3600);
      const active = await product.watcher.waitFor(id, ['active']);
      traced = { id, approveSentAt, activeSeenAt: active.seenAt };
      await product.api.act(product.token(user.email), id, 'relinquish');
    }
    const events = await fetchHistoryEvents(bench.client, traced!.id);
    console.log(`trace of ${traced!.id} (watcher polls every ${bench.settings.pollMs} ms, so "the API shows active" is late by up to that much):`);
    for (const line of traceLines(events, traced!)) console.log(line);
  } finally {
    await product.stop();
  }
}

async function makeUsers(iam: IAMClient, label: string, count: number): Promise<Requester[]> {
  log(`creating ${count} tagged IAM users in moto`);
  const users: Requester[] = [];
  await inBatches(range(count), 20, async (index) => {
    const email = `${label}-${process.pid}-${index}@example.com`;
    users.push({ email, userName: await createIamUser(iam, email, { tag: true }) });
  });
  return users;
}

async function inBatches<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    range(Math.min(width, items.length)).map(async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} in ${timeoutMs / 1000} s (BENCH_WAIT_TIMEOUT_S)`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await run();
  return Date.now() - started;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const range = (count: number) => Array.from({ length: Math.max(0, count) }, (_, index) => index);
const ms = (value: number) => `${Math.round(value)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
const log = (message: string) => console.error(`[bench] ${message}`);

function report(settings: BenchSettings, totalMs: number): void {
  const rows = figures.map((figure) => [figure.name, figure.value, figure.target, figure.met === undefined ? '' : figure.met ? 'met' : 'MISSED']);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...[['figure', 'value', 'target', ''], ...rows].map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  console.log(line(['figure', 'value', 'target', '']));
  for (const row of rows) console.log(line(row));
  console.log(`(${(totalMs / 1000).toFixed(0)} s on ${process.platform}, Node ${process.version}${settings.quick ? ', --quick sizes: not for comparison' : ''})`);
  const file = path.join(__dirname, 'results.json');
  const { traceOnly: _traceOnly, ...sizes } = settings;
  fs.writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, totalMs, settings: sizes, figures }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
