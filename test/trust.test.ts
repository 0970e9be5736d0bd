/**
 * The worker is the authority on what is granted, whatever reaches the Temporal namespace: here the
 * test talks to Temporal directly, as anyone who can reach the namespace could (the Temporal CLI does
 * the same), and checks in moto that nothing is granted. Real API, worker, Temporal dev server, moto.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Client, Connection, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { monotonicFactory } from 'ulid';
import { REJECTION, WORKFLOW_TYPE, approveUpdate, denyUpdate, extendUpdate, statusQuery, type ActorInput, type ExtendInput } from '../workflows/messages';
import type { AccessRequestInput } from '../workflows/types';
import type { AuditEvent } from '../shared/events';
import type { RequestView } from '../shared/request';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { ensureCatalogObjects, holdings, inlinePolicyDocument, newRequester } from './support/iam';

const BOB = 'bob@example.com'; // approver (sre)
const DANA = 'dana@example.com'; // approver (sre)
const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess';
/** The shared test config, plus a rule that auto-approves short AdminRole extensions (and requests). */
const CONFIG = `${BASE_TEST_CONFIG}
autoApproval:
  - { name: short-admin, maxDuration: 5m, levels: [aws/default/role-AdminRole] }
`;

interface RoleGrantStatement {
  Condition: { DateLessThan: { 'aws:CurrentTime': string } };
}

describe('the worker trusts only what the request service signed', function () {
  this.timeout(120_000);
  let h: Harness;
  let connection: Connection;
  let temporal: Client;
  const newUlid = monotonicFactory();

  before(async () => {
    h = await Harness.start(CONFIG);
    await ensureCatalogObjects(h.iam);
    connection = await Connection.connect({ address: h.temporalAddress });
    temporal = new Client({ connection });
  });
  after(async () => {
    await connection?.close();
    await h?.stop();
  });

  /** What an attacker would send: a plausible input, auto-approved, for AdministratorAccess. */
  function forgedInput(requester: string, overrides: Partial<AccessRequestInput> = {}): AccessRequestInput {
    return {
      id: `req_${newUlid()}`,
      requester,
      provider: 'aws',
      resource: 'default',
      level: 'policy-AdministratorAccess',
      kind: 'policy',
      target: 'AdministratorAccess',
      scope: {},
      reason: 'totally legit',
      duration: '1h',
      durationSeconds: 3600,
      approvers: [BOB],
      approvalsRequired: 1,
      allowSelfApproval: false,
      autoApprovedBy: 'looks-official',
      breakGlass: false,
      extension: { allowed: true, minSeconds: 1, maxSeconds: 86_400 },
      policyVersion: 'whatever',
      approvalTimeoutSeconds: 60,
      verifyTimeoutSeconds: 30,
      createdAt: new Date().toISOString(),
      ...overrides,
    };
  }

  function startDirectly(input: AccessRequestInput): Promise<WorkflowHandle> {
    return temporal.workflow.start(WORKFLOW_TYPE, { taskQueue: h.taskQueue, workflowId: input.id, args: [input] });
  }

  /** A workflow's input and the update payloads it accepted, read from its history as anyone in the namespace can. */
  async function fromHistory(id: string): Promise<{ input: AccessRequestInput; updates: Array<{ name: string; args: unknown[] }> }> {
    const history = await temporal.workflow.getHandle(id).fetchHistory();
    const decode = (payloads: unknown) =>
      ((payloads as { payloads?: Parameters<typeof defaultPayloadConverter.fromPayload>[0][] } | null)?.payloads ?? []).map((payload) =>
        defaultPayloadConverter.fromPayload(payload),
      );
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    const updates = history.events!
      .map((event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input)
      .filter((input) => input != null)
      .map((input) => ({ name: input.name!, args: decode(input.args) }));
    return { input: decode(started.input)[0] as AccessRequestInput, updates };
  }

  async function eventsOf(id: string): Promise<AuditEvent[]> {
    return h.requests.events(id);
  }

  function untrustedEvent(events: AuditEvent[]): AuditEvent {
    const event = events.find((candidate) => candidate.type === 'untrusted_input');
    assert.ok(event, `no untrusted_input event in ${JSON.stringify(events.map((candidate) => candidate.type))}`);
    return event;
  }

  it('grants nothing to a workflow started with the Temporal client for a target outside the catalog', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const input = forgedInput(email);
    const handle = await startDirectly(input);

    const result = (await handle.result()) as RequestView;
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /not signed by the request service/);
    assert.deepEqual(await holdings(h.iam, userName), before);
    assert.ok(!(await holdings(h.iam, userName)).attachedPolicies.includes(ADMINISTRATOR_ACCESS));
    const events = await eventsOf(input.id);
    assert.match(String(untrustedEvent(events).details?.problem), /not signed by the request service/);
    assert.equal(events.at(-1)!.type, 'failed');
    assert.ok(!events.some((event) => event.type === 'granted'));
  });

  it('grants nothing when a signed input is changed (AdministratorAccess instead of ReadOnlyAccess)', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const made = await h.request(email, { provider: 'aws', kind: 'policy', target: 'ReadOnlyAccess', reason: 'read the logs' });
    const { input: signed } = await fromHistory(made.id);
    assert.equal(typeof signed.signature, 'string', 'the request service signs what it starts');
    // The genuine request is withdrawn, so its id is free for the tampered copy.
    assert.equal((await h.act(email, made.id, 'cancel')).status, 200);
    await temporal.workflow.getHandle(made.id).result();

    const tampered: AccessRequestInput = { ...signed, level: 'policy-AdministratorAccess', target: 'AdministratorAccess', autoApprovedBy: 'looks-official' };
    const result = (await (await startDirectly(tampered)).result()) as RequestView;
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /changed since it was signed/);
    assert.deepEqual(await holdings(h.iam, userName), before);
  });

  it('refuses two unsigned approve updates (and an unsigned deny) sent with the Temporal client: the request stays pending', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const made = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'debug' });
    const handle = temporal.workflow.getHandle(made.id);
    for (const actor of [BOB, DANA]) {
      await assert.rejects(
        handle.executeUpdate(approveUpdate, { args: [{ actor, comment: 'sure' }] }),
        (error: unknown) =>
          error instanceof WorkflowUpdateFailedError &&
          error.cause instanceof ApplicationFailure &&
          error.cause.type === REJECTION.unsigned &&
          /not sent by the request service/.test(error.cause.message),
      );
    }
    // Nor can an unsigned update end it.
    await assert.rejects(
      handle.executeUpdate(denyUpdate, { args: [{ actor: DANA, comment: 'no' }] }),
      (error: unknown) => error instanceof WorkflowUpdateFailedError && (error.cause as ApplicationFailure).type === REJECTION.unsigned,
    );
    const view = await handle.query(statusQuery);
    assert.equal(view.status, 'pending');
    assert.deepEqual(view.approvals, []);
    // A real approval still works afterwards.
    assert.equal((await h.act(BOB, made.id, 'approve')).status, 200);
    await h.waitFor(email, made.id, ['active']);
    assert.deepEqual((await holdings(h.iam, userName)).groups, [...before.groups, 'Developers'].sort());
    assert.equal((await h.act(email, made.id, 'relinquish')).status, 200);
  });

  it('never grants on an approval with a forged signature', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const made = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'debug' });
    const handle = temporal.workflow.getHandle(made.id);
    const forged: ActorInput = { actor: BOB, comment: 'sure', signature: `v1.${randomBytes(32).toString('base64url')}` };
    // The workflow cannot check a signature (the key never enters it); provision can, and does.
    await handle.executeUpdate(approveUpdate, { args: [forged] });

    const result = (await handle.result()) as RequestView;
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /approval by bob@example.com is not signed by the request service/);
    assert.deepEqual(await holdings(h.iam, userName), before);
    const events = await eventsOf(made.id);
    untrustedEvent(events);
    assert.ok(!events.some((event) => event.type === 'granted'));
  });

  it('refuses a signed request and its signed approval replayed into a new workflow after it ended', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const made = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'debug', duration: '2s' });
    assert.equal((await h.act(BOB, made.id, 'approve')).status, 200);
    await h.waitFor(email, made.id, ['expired']);
    await temporal.workflow.getHandle(made.id).result();
    assert.deepEqual(await holdings(h.iam, userName), before);

    // Everything it took is in the history: start it again under the same id, approve it again.
    const { input, updates } = await fromHistory(made.id);
    const approval = updates.find((update) => update.name === approveUpdate.name)!.args[0] as ActorInput;
    const replay = await startDirectly(input);
    await replay.executeUpdate(approveUpdate, { args: [approval] });
    const result = (await replay.result()) as RequestView;
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /already ended \(expired\)/);
    assert.deepEqual(await holdings(h.iam, userName), before);
    // Its events reuse the ended request's numbers; the refusal is kept under the next free one.
    const events = await eventsOf(made.id);
    assert.match(String(untrustedEvent(events).details?.problem), /already ended \(expired\)/);
    assert.equal(events.at(-2)!.type, 'expired');
    assert.equal(events.at(-1)!.type, 'untrusted_input');
  });

  /** The request's current run as Temporal reports it, once it is `failed` or `active` (a fresh grant). */
  async function settledRun(id: string): Promise<RequestView> {
    const handle = temporal.workflow.getHandle(id);
    let view: RequestView | undefined;
    await waitUntil(async () => {
      view = await handle.query(statusQuery);
      return view.status === 'failed' || view.status === 'active';
    }, 30_000);
    return view!;
  }

  /** A reconcile run removes the request's grant as an orphan: the run that made it is closed. */
  async function reconcileRemoves(id: string, userName: string): Promise<void> {
    const run = await h.reconcile();
    const orphan = run.orphans.find((candidate) => candidate.requestId === id);
    assert.equal(orphan?.action, 'revoked', JSON.stringify(run));
    assert.match(orphan.description, /its workflow is terminated while the request reads active/);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  }

  /** An approved AdminRole request of a fresh requester, active, with its backstop (moves if granted anew). */
  async function activeAdminRole(): Promise<{ userName: string; made: RequestView; backstop: string }> {
    const { email, userName } = await newRequester(h.iam);
    const made = await h.request(email, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'deploy', duration: '10m' });
    assert.equal((await h.act(BOB, made.id, 'approve')).status, 200);
    await h.waitFor(email, made.id, ['active']);
    return { userName, made, backstop: await backstopOf(h, userName, made.id) };
  }

  it('grants nothing anew to an active request terminated and started again with its signed input and approval', async () => {
    const { userName, made, backstop } = await activeAdminRole();

    // Everything a fresh run needs is in the history; terminating the run frees the id.
    const { input, updates } = await fromHistory(made.id);
    const approval = updates.find((update) => update.name === approveUpdate.name)!.args[0] as ActorInput;
    await temporal.workflow.getHandle(made.id).terminate('attacker wants a fresh duration');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a fresh grant would show as a later backstop
    const rerun = await startDirectly(input);
    await rerun.executeUpdate(approveUpdate, { args: [approval] });

    const view = await settledRun(made.id);
    try {
      assert.equal(view.status, 'failed', `the re-run was granted again, until ${view.expiresAt}`);
      assert.match(view.error ?? '', /first granted in another run of its workflow/);
      assert.equal(await backstopOf(h, userName, made.id), backstop);
      // The re-run's events reuse the original's numbers; the refusal is kept all the same.
      const refused = untrustedEvent(await eventsOf(made.id));
      assert.match(String(refused.details?.problem), /first granted in another run/);
      assert.equal(refused.details?.runId, (await rerun.describe()).runId);
      // The terminated run never removed its grant; the reconciler does (its run is closed, its row active).
      await reconcileRemoves(made.id, userName);
    } finally {
      if (view.status === 'active') await rerun.terminate('test cleanup');
    }
  });

  it('grants nothing anew to an active request reset to before its provisioning', async () => {
    const { userName, made, backstop } = await activeAdminRole();

    const original = temporal.workflow.getHandle(made.id);
    const { events } = await original.fetchHistory();
    const provisionScheduled = events!.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'provision')!;
    const taskCompleted = events!.filter((event) => event.workflowTaskCompletedEventAttributes && Number(event.eventId) < Number(provisionScheduled.eventId)).at(-1)!;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await temporal.workflowService.resetWorkflowExecution({
      namespace: temporal.options.namespace,
      workflowExecution: { workflowId: made.id, runId: (await original.describe()).runId },
      reason: 'attacker wants a fresh duration',
      workflowTaskFinishEventId: taskCompleted.eventId,
      requestId: randomUUID(),
    });

    const view = await settledRun(made.id);
    try {
      assert.equal(view.status, 'failed', `the reset run was granted again, until ${view.expiresAt}`);
      assert.match(view.error ?? '', /first granted in another run of its workflow/);
      assert.equal(await backstopOf(h, userName, made.id), backstop);
      await reconcileRemoves(made.id, userName);
    } finally {
      if (view.status === 'active') await temporal.workflow.getHandle(made.id).terminate('test cleanup');
    }
  });

  it('does not lengthen access for an extend sent with the Temporal client, nor for a copy of a real one', async () => {
    const { email, userName } = await newRequester(h.iam);
    const made = await h.request(email, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'deploy', duration: '10m' });
    assert.equal((await h.act(BOB, made.id, 'approve')).status, 200);
    const active = await h.waitFor(email, made.id, ['active']);
    const handle = temporal.workflow.getHandle(made.id);
    const untrustedCount = async () => (await eventsOf(made.id)).filter((event) => event.type === 'untrusted_input').length;

    // A made-up extension: the workflow cannot check its signature, so it applies it at first...
    const forged: ExtendInput = {
      actor: email,
      duration: '50m',
      durationSeconds: 3000,
      autoApprovedBy: 'short-admin',
      sentAt: new Date().toISOString(),
      signature: `v1.${randomBytes(32).toString('base64url')}`,
    };
    await handle.executeUpdate(extendUpdate, { args: [forged] });
    // ...until renewing the backstop, the worker finds it unsigned and takes it back.
    await waitUntil(async () => (await untrustedCount()) === 1 && (await handle.query(statusQuery)).expiresAt === active.expiresAt);
    assert.match(String((await eventsOf(made.id)).find((event) => event.type === 'untrusted_input')!.details?.problem), /extension 1 is not signed/);
    assert.deepEqual((await handle.query(statusQuery)).extensions, []);
    const backstop = await backstopOf(h, userName, made.id);
    assert.ok(Date.parse(backstop) < Date.parse(active.expiresAt!) + 60_000, `backstop ${backstop} moved`);

    // A real extension (auto-approved by the rule) applies; a copy of it sent again is taken back.
    const extended = await h.call<{ request: RequestView }>(email, 'POST', `/v1/requests/${made.id}/extend`, { duration: '5m' });
    assert.equal(extended.status, 200, JSON.stringify(extended.body));
    const extendedUntil = extended.body.request.expiresAt!;
    assert.equal(Date.parse(extendedUntil) - Date.parse(active.expiresAt!), 300_000);
    await waitUntil(async () => Date.parse(await backstopOf(h, userName, made.id)) >= Date.parse(extendedUntil));
    const { updates } = await fromHistory(made.id);
    const realExtend = updates.filter((update) => update.name === extendUpdate.name).at(-1)!.args[0] as ExtendInput;
    assert.equal(realExtend.autoApprovedBy, 'short-admin');
    await handle.executeUpdate(extendUpdate, { args: [realExtend] });
    await waitUntil(async () => (await untrustedCount()) === 2 && (await handle.query(statusQuery)).expiresAt === extendedUntil);
    assert.match(String((await eventsOf(made.id)).filter((event) => event.type === 'untrusted_input')[1]!.details?.problem), /used twice \(replayed\)/);
    assert.equal((await handle.query(statusQuery)).extensions.length, 1);
    assert.ok(Date.parse(await backstopOf(h, userName, made.id)) < Date.parse(extendedUntil) + 60_000);
    assert.equal((await h.act(email, made.id, 'relinquish')).status, 200);
  });

  it('grants only what the current catalog offers: a level removed while the request waits is refused', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const made = await h.request(email, { provider: 'aws', kind: 'policy', target: 'ReadOnlyAccess', reason: 'read the logs' });
    const withoutReadOnly = CONFIG.split('\n').filter((line) => !line.includes('ReadOnlyAccess')).join('\n');
    fs.writeFileSync(h.configPath, withoutReadOnly);
    try {
      await waitUntil(async () => {
        const answer = await h.call<{ resources: Array<{ target: string }> }>(email, 'GET', '/v1/resources');
        return !answer.body.resources.some((resource) => resource.target === 'ReadOnlyAccess');
      });
      assert.equal((await h.act(BOB, made.id, 'approve')).status, 200);
      const failed = await h.waitFor(email, made.id, ['failed', 'active']);
      assert.equal(failed.status, 'failed');
      assert.match(failed.error ?? '', /catalog no longer offers aws\/default\/policy-ReadOnlyAccess/);
      assert.deepEqual(await holdings(h.iam, userName), before);
      untrustedEvent(await eventsOf(made.id));
    } finally {
      fs.writeFileSync(h.configPath, CONFIG);
    }
  });
});

async function backstopOf(h: Harness, userName: string, requestId: string): Promise<string> {
  const document = await inlinePolicyDocument(h.iam, userName, `p0-${requestId}`);
  return (document.Statement as RoleGrantStatement[])[0]!.Condition.DateLessThan['aws:CurrentTime'];
}

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
