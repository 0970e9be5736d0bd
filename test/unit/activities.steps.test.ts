/**
 * The accessRequest activities' own steps with fake clients (no provider, store or Temporal server):
 * what `recordEvent` tells the chat channels.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDependencies, type Notification, type RequestEventSink } from '../../activities';
import { MessageSigner } from '../../service/messageSigning';
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
  const environment = new MockActivityEnvironment({ workflowExecution: { workflowId: 'req_STEPS', runId: 'run-1' } });
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
