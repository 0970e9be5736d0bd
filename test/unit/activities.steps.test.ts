/**
 * The accessRequest activities' own steps with fake clients (no provider, store or Temporal server):
 * what `recordEvent` tells the chat channels, `provision` and `revoke` checking their own work when
 * one read with no settle delay is all the provider asks, and how often the checks read.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type ActivityDependencies, type GrantLeases, type Notification, type RequestEventSink } from '../../activities';
import type { GrantSpec, PropagationSettings, Provider } from '../../providers/provider';
import { LivePolicy } from '../../service/livePolicy';
import { MessageSigner, SIGNED_MESSAGE } from '../../service/messageSigning';
import type { AuditEvent } from '../../shared/events';
import type { RequestView } from '../../shared/request';
import { initialView } from '../../workflows/types';
import { requestInput } from '../support/workflowStubs';

const SIGNER = new MessageSigner(randomBytes(32));

function activitiesWith(overrides: Partial<ActivityDependencies>) {
  const requests: RequestEventSink = { recordEvent: () => Promise.resolve(), get: () => Promise.resolve(undefined) };
  return createActivities({
    providers: new Map(),
    requests,
    leases: {} as ActivityDependencies['leases'],
    signing: SIGNER,
    policy: () => {
      throw new Error('no policy in this test');
    },
    ...overrides,
  });
}

function inActivity<R>(call: () => Promise<R>): Promise<R> {
  // Errors only: the activities' warnings (a removal made again, say) are what some tests provoke.
  const environment = new MockActivityEnvironment({ workflowExecution: { workflowId: 'req_STEPS', runId: 'run-1' } }, { logger: new DefaultLogger('ERROR') });
  return environment.run<[], R, () => Promise<R>>(call);
}

/** Resolves once the notifier has heard `count` notifications (they are sent in the background). */
function listening(count: number): { heard: Notification[]; done: Promise<void>; notifier: { name: string; notify(n: Notification): Promise<void> } } {
  const heard: Notification[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((settle) => (resolve = settle));
  return {
    heard,
    done,
    notifier: {
      name: 'test',
      notify(notification) {
        heard.push(notification);
        if (heard.length >= count) resolve();
        return Promise.resolve();
      },
    },
  };
}

describe('accessRequest activities (fake clients)', () => {
  const view: RequestView = { ...initialView(requestInput('req_STEPS')), version: 1 };
  const event: AuditEvent = { requestId: 'req_STEPS', seq: 1, type: 'requested', actor: 'alice@example.com', at: new Date().toISOString() };

  it('recordEvent tells the notifiers once the event is written, when the workflow asks', async () => {
    const written: number[] = [];
    const { heard, done, notifier } = listening(1);
    const activities = activitiesWith({
      notifiers: [notifier],
      requests: { recordEvent: (recorded) => (written.push(recorded.seq), Promise.resolve()), get: () => Promise.resolve(undefined) },
    });
    await inActivity(() => activities.recordEvent(event, view, { notify: true }));
    await done;
    assert.deepEqual(written, [1]);
    assert.deepEqual(heard, [{ event: 'requested', view }]);
  });

  it('recordEvent notifies nobody for a workflow that notifies itself, or an event another run numbered', async () => {
    const { heard, notifier } = listening(1);
    const plain = activitiesWith({ notifiers: [notifier] });
    await inActivity(() => plain.recordEvent(event, view));
    const clashing = activitiesWith({
      notifiers: [notifier],
      requests: { recordEvent: () => Promise.resolve({ seqTakenBy: { type: 'requested' } }), get: () => Promise.resolve(undefined) },
    });
    await inActivity(() => clashing.recordEvent(event, view, { notify: true }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(heard, []);
  });

  it('recordEvent does not wait for a slow or failing chat channel', async () => {
    const never = { name: 'stuck', notify: () => new Promise<void>(() => undefined) };
    const failing = { name: 'down', notify: () => Promise.reject(new Error('chat is down')) };
    const activities = activitiesWith({ notifiers: [never, failing] });
    await inActivity(() => activities.recordEvent(event, view, { notify: true }));
  });
});

const POLICY = LivePolicy.fromText(
  `
approvers:
  oncall: [approver@example.com]
catalog:
  aws:
    - resource: default
      levels:
        - { level: dev, kind: group, target: Developers, approvers: [oncall] }
`,
  'test.yaml',
).current();

/** A provider that grants at once and answers reads from `present` (by read count), counting its calls. */
function fakeProvider(propagation: PropagationSettings, present: (read: number) => boolean = () => true) {
  const calls = { grants: 0, revokes: 0, reads: [] as number[] };
  const provider: Provider = {
    name: 'aws',
    propagation,
    inspect: () => Promise.resolve({ resourceKey: 'aws:user/alice:group/Developers', present: false, principal: { userName: 'alice' } }),
    grant: () => (calls.grants++, Promise.resolve()),
    revoke: () => (calls.revokes++, Promise.resolve()),
    isGranted: () => Promise.resolve(present(calls.reads.push(Date.now()))),
    listMarked: () => Promise.resolve([]),
    removeMarked: () => Promise.resolve(),
  };
  return { provider, calls };
}

function fakeLeases(): GrantLeases & { confirmed: string[] } {
  const confirmed: string[] = [];
  return {
    confirmed,
    acquire: () => Promise.resolve({ standing: false, runId: 'run-1' }),
    grantedInRun: () => Promise.resolve(undefined),
    recordedPrincipal: () => Promise.resolve({ userName: 'alice' }),
    release: () => Promise.resolve({ removeAtProvider: true, reason: 'released' }),
    releaseOf: () => Promise.resolve(undefined),
    confirmRemoved: (requestId) => (confirmed.push(requestId), Promise.resolve({ heldBy: [] })),
    otherHolders: () => Promise.resolve([]),
  };
}

const SPEC: GrantSpec = { requestId: 'req_STEPS', provider: 'aws', resource: 'default', scope: {}, kind: 'group', target: 'Developers', principal: 'alice@example.com', notAfter: '2030-01-01T00:00:00.000Z' };

/** What the request service would have signed for SPEC: an auto-approved request. */
function evidence() {
  const input = requestInput(SPEC.requestId, {
    requester: SPEC.principal,
    resource: 'default',
    level: 'dev',
    kind: 'group',
    target: 'Developers',
    scope: {},
    approvers: ['approver@example.com'],
    approvalsRequired: 1,
    autoApprovedBy: 'oncall',
    policyVersion: POLICY.version,
  });
  return { input: SIGNER.signMessage(SIGNED_MESSAGE.request, input.id, input), approvals: [] };
}

const ONE_READ: PropagationSettings = { consecutiveReads: 1, settleDelayMs: 0, pollIntervalMs: 1000 };

describe('accessRequest activities checking their own work (fake provider)', () => {
  function activitiesFor(provider: Provider, leases = fakeLeases()) {
    return activitiesWith({ providers: new Map([['aws', provider]]), leases, policy: () => POLICY });
  }

  it('provision reads the grant back itself when asked and one read with no settle delay is enough', async () => {
    const { provider, calls } = fakeProvider(ONE_READ);
    const result = await inActivity(() => activitiesFor(provider).provision(SPEC, evidence(), { readBack: true }));
    assert.deepEqual({ ...result, reads: calls.reads.length }, { resourceKey: 'aws:user/alice:group/Developers', standing: false, verified: true, reads: 1 });
  });

  it('provision leaves the check to verifyPropagation otherwise: not asked, more reads or a settle delay, not yet visible', async () => {
    for (const [propagation, options, present] of [
      [ONE_READ, undefined, true],
      [{ ...ONE_READ, consecutiveReads: 2 }, { readBack: true }, true],
      [{ ...ONE_READ, settleDelayMs: 1000 }, { readBack: true }, true],
      [ONE_READ, { readBack: true }, false],
    ] as const) {
      const { provider, calls } = fakeProvider(propagation, () => present);
      const result = await inActivity(() => activitiesFor(provider).provision(SPEC, evidence(), options));
      assert.equal(result.verified, undefined, JSON.stringify({ propagation, options, present }));
      assert.equal(calls.grants, 1);
    }
  });

  it('provision still grants when its own read-back fails', async () => {
    const { provider } = fakeProvider(ONE_READ);
    provider.isGranted = () => Promise.reject(new Error('throttled'));
    const result = await inActivity(() => activitiesFor(provider).provision(SPEC, evidence(), { readBack: true }));
    assert.equal(result.verified, undefined);
  });

  it('revoke confirms the removal itself when asked and one read is enough, as verifyRevocation would', async () => {
    const { provider, calls } = fakeProvider(ONE_READ, () => false);
    const leases = fakeLeases();
    const result = await inActivity(() => activitiesFor(provider, leases).revoke(SPEC, { confirm: true }));
    assert.deepEqual(result, { removedAtProvider: true, reason: 'released', confirmed: { confirmed: true } });
    assert.deepEqual([calls.revokes, calls.reads.length, leases.confirmed], [1, 1, [SPEC.requestId]]);
  });

  it('revoke leaves the check to verifyRevocation while the grant still reads back', async () => {
    const { provider } = fakeProvider(ONE_READ, () => true);
    const leases = fakeLeases();
    const result = await inActivity(() => activitiesFor(provider, leases).revoke(SPEC, { confirm: true }));
    assert.deepEqual(result, { removedAtProvider: true, reason: 'released' });
    assert.deepEqual(leases.confirmed, []);
  });

  it('verifyPropagation reads 100 ms apart at first, and lets the settle delay run alongside the reads', async () => {
    // Three reads in a row with a 2-s poll interval took 4 s, then 300 ms of settling: now about 300 ms.
    const { provider, calls } = fakeProvider({ consecutiveReads: 3, settleDelayMs: 300, pollIntervalMs: 2000 });
    const startedAt = Date.now();
    await inActivity(() => activitiesFor(provider).verifyPropagation(SPEC, new Date(Date.now() + 60_000).toISOString()));
    const tookMs = Date.now() - startedAt;
    assert.equal(calls.reads.length, 3);
    assert.ok(tookMs >= 280 && tookMs < 2000, `took ${tookMs} ms`);
  });

  it('verifyPropagation starts the reads in a row again, and the settle delay with them, when a read flaps back to not granted', async () => {
    // granted, not granted, granted, granted: two in a row only at the fourth read. Counting reads
    // that saw the grant (not reads in a row) would stop at the third.
    const answers = [true, false, true, true];
    const { provider, calls } = fakeProvider({ consecutiveReads: 2, settleDelayMs: 400, pollIntervalMs: 50 }, (read) => answers[read - 1] ?? true);
    await inActivity(() => activitiesFor(provider).verifyPropagation(SPEC, new Date(Date.now() + 60_000).toISOString()));
    const endedAt = Date.now();
    assert.equal(calls.reads.length, 4);
    // The settle delay counts from the third read, the first of the two in a row, not from the first.
    const afterThirdMs = endedAt - calls.reads[2]!;
    assert.ok(afterThirdMs >= 390 && afterThirdMs < 1500, `ended ${afterThirdMs} ms after the third read`);
  });

  it('verifyPropagation honours a settle delay, and cuts it at the verify deadline', async () => {
    const { provider } = fakeProvider({ consecutiveReads: 1, settleDelayMs: 700, pollIntervalMs: 50 });
    let startedAt = Date.now();
    await inActivity(() => activitiesFor(provider).verifyPropagation(SPEC, new Date(Date.now() + 60_000).toISOString()));
    const settledMs = Date.now() - startedAt;
    assert.ok(settledMs >= 690 && settledMs < 2000, `settled in ${settledMs} ms`);
    // A settle delay longer than what is left before the deadline ends at the deadline, verified.
    const { provider: slow } = fakeProvider({ consecutiveReads: 1, settleDelayMs: 60_000, pollIntervalMs: 50 });
    startedAt = Date.now();
    await inActivity(() => activitiesFor(slow).verifyPropagation(SPEC, new Date(startedAt + 500).toISOString()));
    const cutMs = Date.now() - startedAt;
    assert.ok(cutMs >= 450 && cutMs < 2000, `cut after ${cutMs} ms`);
  });

  it('verifyRevocation removes the grant again when it keeps reading back, and confirms it gone after that', async () => {
    // The removal the revoke step made did not take: the grant reads back until it is removed again.
    const { provider, calls } = fakeProvider({ consecutiveReads: 2, settleDelayMs: 0, pollIntervalMs: 20 }, () => calls.revokes < 1);
    const leases = fakeLeases();
    const result = await inActivity(() => activitiesFor(provider, leases).verifyRevocation(SPEC));
    assert.deepEqual(result, { confirmed: true });
    assert.equal(calls.revokes, 1, 'removed again once');
    assert.deepEqual(leases.confirmed, [SPEC.requestId]);
  });

  it('verifyRevocation backs off from 100 ms to the poll interval while the grant still reads back', async () => {
    const { provider, calls } = fakeProvider({ consecutiveReads: 1, settleDelayMs: 0, pollIntervalMs: 250 }, (read) => read <= 4);
    await inActivity(() => activitiesFor(provider).verifyRevocation(SPEC));
    const gaps = calls.reads.slice(1).map((at, index) => at - calls.reads[index]!);
    // 100, 200, then the 250-ms interval.
    assert.equal(gaps.length, 4);
    assert.ok(gaps[0]! >= 90 && gaps[0]! < 240 && gaps[1]! >= 190 && gaps[2]! >= 240 && gaps[3]! >= 240, `gaps ${gaps.join(', ')} ms`);
  });
});
