/**
 * `npm run bench`: what the product adds on top of Temporal and the cloud, measured side by side in
 * one run (machines here are shared and noisy, so ratios taken in the same run are the figures that
 * mean something). Prints a table and writes bench/results.json. See docs/performance.md.
 *
 * Real peers throughout: the Temporal dev server, moto for IAM, the product's API and worker. The
 * scale figure swaps the cloud provider for one that grants nothing (bench/noopWorker.ts), so it
 * measures the product and Temporal carrying N active grants rather than the emulator.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { RequestView } from '../shared/request';
import { Harness } from '../test/support/harness';
import { ensureCatalogObjects, holdings } from '../test/support/iam';
import { createIamUser } from '../test/support/moto';
import { startWorkerProcess } from '../test/support/workerProcess';
import { ACTION } from '../bots/slack/blockKit';
import { FAKE_TEAM_ID, FakeSlack, SlackEventsClient, type FakeMessage, type FakeSlackUser } from '../test/support/fakeSlack';
import * as bareActivities from './bareActivities';
import { bareApprove } from './bareWorkflow';

const APPROVER = 'bob@example.com';
const OVERHEAD_REQUESTS = Number(process.env.BENCH_OVERHEAD_REQUESTS ?? 200);
const LATENESS_REQUESTS = Number(process.env.BENCH_LATENESS_REQUESTS ?? 100);
const THROUGHPUT_SIZES = (process.env.BENCH_THROUGHPUT ?? '1,50,500').split(',').map(Number);
const SCALE_STEPS = (process.env.BENCH_SCALE ?? '1000,2000,5000,10000').split(',').map(Number);
/** The scale phase stops at the step that would run past this, and says so. */
const SCALE_BUDGET_MS = Number(process.env.BENCH_SCALE_BUDGET_S ?? 420) * 1000;
const CHAT_CLICKS = Number(process.env.BENCH_CHAT_CLICKS ?? 50);

const CONFIG = (approval: 'human' | 'auto') => `
approvers:
  sre: [${APPROVER}]
approvalTimeout: 1h
verifyTimeout: 2m
resources:
  - { provider: aws, kind: group, target: Developers, approvers: [sre], minDuration: 1s, maxDuration: 2h }
${approval === 'auto' ? 'autoApproval:\n  - { name: bench, levels: ["*"] }\n' : ''}aws:
  propagation: { settleDelay: 0s, consecutiveReads: 1, pollInterval: 100ms }
`;

interface Figure {
  name: string;
  value: string;
  target: string;
  met?: boolean;
  detail?: Record<string, unknown>;
}

const figures: Figure[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const startedAt = Date.now();
  await phase('moto-backed figures', async () => {
    const h = await Harness.start(CONFIG('human'));
    try {
      await ensureCatalogObjects(h.iam);
      const users = await makeUsers(h.iam, 'bench', OVERHEAD_REQUESTS + LATENESS_REQUESTS + THROUGHPUT_SIZES.reduce((a, b) => a + 2 * b, 0));
      await measureOverhead(h, users.splice(0, OVERHEAD_REQUESTS));
      await measureLateness(h, users.splice(0, LATENESS_REQUESTS));
      await measureThroughput(h, users);
    } finally {
      await h.stop();
    }
  });
  await phase('chat acknowledgement', measureChatAcknowledgement);
  await phase('scale', measureScale);
  report(Date.now() - startedAt);
  process.exit(0);
}

/** Runs one part of the benchmark; a failure is reported in the table instead of losing the rest. */
async function phase(name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    log(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    figures.push({ name: `${name}: failed`, value: error instanceof Error ? error.message.split('\n')[0]! : String(error), target: '', met: false });
  }
}

/** Approve call -> `active`, with the provider's propagation wait at zero (settle 0, one read-back). */
async function measureOverhead(h: Harness, users: Requester[]): Promise<void> {
  log(`approval -> active overhead: ${users.length} requests, 10 at a time`);
  const samples: number[] = [];
  await inBatches(users, 10, async (user) => {
    const view = await h.request(user.email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'bench', duration: '1h' });
    const approveStartedAt = Date.now();
    await h.act(APPROVER, view.id, 'approve');
    const active = await waitForStatus(h, view.id, ['active']);
    samples.push(Date.parse(active.activeAt!) - approveStartedAt);
    await h.act(user.email, view.id, 'relinquish');
  });
  const p50 = percentile(samples, 50);
  figures.push({ name: 'approval -> active overhead p50', value: ms(p50), target: '< 250 ms', met: p50 < 250 });
  figures.push({ name: 'approval -> active overhead p99', value: ms(percentile(samples, 99)), target: '(reported)' });
}

/** `expiresAt` -> the membership really gone at IAM (polled every 25 ms). */
async function measureLateness(h: Harness, users: Requester[]): Promise<void> {
  log(`revocation lateness: ${users.length} requests of 2s, 10 at a time`);
  const samples: number[] = [];
  await inBatches(users, 10, async (user) => {
    const view = await h.request(user.email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'bench', duration: '2s' });
    await h.act(APPROVER, view.id, 'approve');
    const active = await waitForStatus(h, view.id, ['active']);
    const expiresAtMs = Date.parse(active.expiresAt!);
    await sleep(Math.max(0, expiresAtMs - Date.now()));
    while ((await holdings(h.iam, user.userName)).groups.includes('Developers')) await sleep(25);
    samples.push(Date.now() - expiresAtMs);
  });
  const p99 = percentile(samples, 99);
  figures.push({ name: 'revocation lateness p50', value: ms(percentile(samples, 50)), target: '(reported)' });
  figures.push({ name: 'revocation lateness p99', value: ms(p99), target: '< 1 s', met: p99 < 1000 });
}

/** N requests at once through create -> approve -> active -> expire, beside the bare workflow. */
async function measureThroughput(h: Harness, users: Requester[]): Promise<void> {
  const connection = await Connection.connect({ address: h.temporalAddress });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address: h.temporalAddress });
  const bareWorker = await Worker.create({
    connection: nativeConnection,
    taskQueue: `${h.taskQueue}-bare`,
    workflowsPath: require.resolve('./bareWorkflow'),
    activities: bareActivities,
  });
  const bareRun = bareWorker.run();
  try {
    for (const size of THROUGHPUT_SIZES) {
      const ours = users.splice(0, size);
      const bare = users.splice(0, size);
      log(`throughput: ${size} at once, product then bare workflow`);
      const productMs = await timed(() =>
        Promise.all(
          ours.map(async (user) => {
            const view = await h.request(user.email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'bench', duration: '1s' });
            await h.act(APPROVER, view.id, 'approve');
            await waitForStatus(h, view.id, ['expired'], 600_000, 250);
          }),
        ),
      );
      const bareMs = await timed(() =>
        Promise.all(
          bare.map(async (user, index) => {
            const handle = await client.workflow.start('bareGrant', {
              taskQueue: `${h.taskQueue}-bare`,
              workflowId: `bare-${Date.now()}-${index}`,
              args: [user.userName, 'Developers', 1],
            });
            await handle.signal(bareApprove);
            await handle.result();
          }),
        ),
      );
      const productRate = size / (productMs / 1000);
      const bareRate = size / (bareMs / 1000);
      const ratio = productRate / bareRate;
      figures.push({
        name: `lifecycle throughput, ${size} at once`,
        value: `${productRate.toFixed(1)}/s vs bare ${bareRate.toFixed(1)}/s = ${ratio.toFixed(2)}x`,
        target: '>= 0.8x bare Temporal',
        met: size === 1 ? undefined : ratio >= 0.8,
        detail: { productMs, bareMs },
      });
    }
  } finally {
    bareWorker.shutdown();
    await bareRun;
    await nativeConnection.close();
    await connection.close();
  }
}

/**
 * Slack's 3-second rule: N signed Approve clicks at once (each on its own pending request), timed
 * from the HTTP request to the app's acknowledgement. The approval itself runs after the ack.
 */
async function measureChatAcknowledgement(): Promise<void> {
  log(`chat acknowledgement: ${CHAT_CLICKS} concurrent signed Slack clicks`);
  const botToken = 'xoxb-bench';
  const signingSecret = 'bench-signing-secret';
  const approver: FakeSlackUser = { id: 'U0BOB', email: APPROVER, name: 'bob' };
  const requesters = range(CHAT_CLICKS).map((index): FakeSlackUser => ({ id: `U0R${index}`, email: `chat-${process.pid}-${index}@example.com` }));
  const fake = await FakeSlack.start({ botToken, users: [approver, ...requesters] });
  // The Slack app believes only its pinned workspace: the fake Slack's.
  const h = await Harness.start(`${CONFIG('human')}slack:\n  teamId: ${FAKE_TEAM_ID}\n`, { slack: { botToken, signingSecret, apiUrl: fake.apiUrl } });
  try {
    const ids = await Promise.all(
      requesters.map(async (user) => (await h.request(user.email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'bench', duration: '1h' })).id),
    );
    const messages = await Promise.all(ids.map((id) => waitForMessage(fake, approver, id)));
    const slack = new SlackEventsClient(`${h.apiUrl}/slack/events`, signingSecret);
    const answers = await Promise.all(messages.map((message) => slack.interaction(fake.clickButton(approver, message, ACTION.approve))));
    const refused = answers.filter((answer) => answer.status !== 200).length;
    // The approvals run after the acks: let them land before the app is stopped.
    await Promise.all(ids.map((id) => waitForStatus(h, id, ['approved', 'provisioning', 'active', 'failed'], 120_000, 200)));
    const samples = answers.map((answer) => answer.elapsedMs);
    const p99 = percentile(samples, 99);
    figures.push({
      name: `Slack click acknowledgement p99 (${CHAT_CLICKS} at once)`,
      value: ms(p99),
      target: '< 3 s (Slack shows an error after 3 s)',
      met: p99 < 3000 && refused === 0,
      detail: { p50: percentile(samples, 50), refused },
    });
  } finally {
    await h.stop();
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

/** N concurrently active grants on one worker process: its RSS and the history size per request. */
async function measureScale(): Promise<void> {
  const h = await Harness.start(CONFIG('auto'), { withWorker: false });
  const worker = await startWorkerProcess(h, 'bench/noopWorker.ts');
  const connection = await Connection.connect({ address: h.temporalAddress });
  const client = new Client({ connection });
  const startedAt = Date.now();
  let created = 0;
  try {
    for (const step of SCALE_STEPS) {
      const elapsed = Date.now() - startedAt;
      if (elapsed > SCALE_BUDGET_MS) {
        figures.push({ name: `scale: ${step} active grants`, value: 'not run', target: '(time budget)', detail: { budgetSeconds: SCALE_BUDGET_MS / 1000 } });
        continue;
      }
      log(`scale: bringing active grants to ${step}`);
      const ids: string[] = [];
      await inBatches(range(step - created), 50, async (index) => {
        const view = await h.request(`scale-${created + index}@example.com`, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'bench', duration: '2h' });
        ids.push(view.id);
      });
      created = step;
      await waitUntilAllActive(h, step);
      const rssBytes = processRss(worker.child.pid!);
      const sample = ids.slice(0, 20);
      const sizes = await Promise.all(
        sample.map(async (id) => Number((await client.workflow.getHandle(id).describe()).raw.workflowExecutionInfo?.historySizeBytes ?? 0)),
      );
      const historyBytes = sizes.reduce((a, b) => a + b, 0) / sizes.length;
      figures.push({
        name: `scale: ${step} active grants`,
        value: `worker RSS ${mb(rssBytes)}, history ${(historyBytes / 1024).toFixed(1)} KiB/request`,
        target: step >= 10_000 ? '< 1 GiB RSS' : '(growth)',
        met: step >= 10_000 ? rssBytes < 1024 ** 3 : undefined,
        detail: { rssBytes, historyBytesPerRequest: historyBytes },
      });
    }
  } finally {
    await worker.kill('SIGKILL');
    await connection.close();
    await h.stop();
  }
}

async function waitUntilAllActive(h: Harness, count: number): Promise<void> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const active = (await h.requests.list({ status: 'active' })).length;
    if (active >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${active} of ${count} grants became active`);
    await sleep(1000);
  }
}

function processRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

interface Requester {
  email: string;
  userName: string;
}

async function makeUsers(iam: IAMClient, label: string, count: number): Promise<Requester[]> {
  log(`creating ${count} IAM users in moto`);
  const users: Requester[] = [];
  await inBatches(range(count), 20, async (index) => {
    const email = `${label}-${process.pid}-${index}@example.com`;
    users.push({ email, userName: await createIamUser(iam, email, { tag: true }) });
  });
  return users;
}

/** Polls the store's projection (what the API's GET reads) until the request reaches a status. */
async function waitForStatus(h: Harness, id: string, statuses: string[], timeoutMs = 120_000, everyMs = 10): Promise<RequestView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await h.requests.get(id);
    if (view && statuses.includes(view.status)) return view;
    if (Date.now() > deadline) throw new Error(`${id} did not reach ${statuses.join('|')}: ${view?.status}`);
    await sleep(everyMs);
  }
}

async function inBatches<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    range(Math.min(width, items.length)).map(async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
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

function report(totalMs: number): void {
  const rows = figures.map((figure) => [figure.name, figure.value, figure.target, figure.met === undefined ? '' : figure.met ? 'met' : 'MISSED']);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...[['figure', 'value', 'target', ''], ...rows].map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  console.log(line(['figure', 'value', 'target', '']));
  for (const row of rows) console.log(line(row));
  console.log(`(${(totalMs / 1000).toFixed(0)} s on ${process.platform}, Node ${process.version})`);
  const file = path.join(__dirname, 'results.json');
  fs.writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, totalMs, figures }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
