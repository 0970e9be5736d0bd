/**
 * The live feed behind GET /v1/events (service/requestFeed.ts), over an in-memory change log that
 * commits rows out of order as PostgreSQL can: each subscriber hears each change it may see once,
 * a late row in a hole is still delivered, a resume replays what was missed, and too much missed is
 * a reset. The feed over the real store and HTTP is covered by test/web.test.ts.
 */
import assert from 'node:assert/strict';
import pino from 'pino';
import { RequestFeed, type ChangeLog, type RequestChange } from '../../service/requestFeed';
import type { Caller } from '../../service/policy';
import type { AuditEventType } from '../../shared/events';
import type { RequestView } from '../../shared/request';

/** A change log whose rows become visible when committed, in any order of their ids. */
class FakeLog implements ChangeLog {
  private readonly rows: Array<{ id: number; requestId: string; type: AuditEventType }> = [];
  readonly views = new Map<string, RequestView>();
  private reads = 0;
  private readonly waiting: Array<{ reads: number; resolve: () => void }> = [];

  /** Resolves once the feed has read the log `count` more times: a whole poll ran after what came before. */
  polled(count = 3): Promise<void> {
    return new Promise((resolve) => this.waiting.push({ reads: this.reads + count, resolve }));
  }

  commit(id: number, requestId: string, requester = 'alice@example.com'): void {
    this.rows.push({ id, requestId, type: 'requested' });
    this.views.set(requestId, { id: requestId, requester, approvers: ['bob@example.com'], status: 'pending' } as RequestView);
  }

  changesSince(afterId: number, limit: number) {
    this.reads += 1;
    for (const waiter of this.waiting.filter((candidate) => candidate.reads <= this.reads)) {
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      setImmediate(waiter.resolve);
    }
    return Promise.resolve(this.rows.filter((row) => row.id > afterId).sort((a, b) => a.id - b.id).slice(0, limit));
  }

  lastChangeId() {
    return Promise.resolve(Math.max(0, ...this.rows.map((row) => row.id)));
  }

  get(id: string) {
    return Promise.resolve(this.views.get(id));
  }
}

/** The request service's rule: the requester, an approver or an admin. */
const visibility = {
  visibleTo: (caller: Caller, view: RequestView) => (caller.admin || view.requester === caller.email || view.approvers.includes(caller.email) ? view : undefined),
};

function listen(feed: RequestFeed, caller: Caller, lastEventId?: number): { heard: number[]; resets: number; stop: () => void } {
  const state = { heard: [] as number[], resets: 0, stop: () => undefined as void };
  state.stop = feed.subscribe(
    {
      caller,
      onChange: (change: RequestChange) => state.heard.push(change.id),
      onReset: () => (state.resets += 1),
      onEnd: () => undefined,
    },
    lastEventId,
  );
  return state;
}

const POLL_MS = 5;

describe('the live request feed (service/requestFeed.ts)', () => {
  const feeds: RequestFeed[] = [];
  const newFeed = (log: ChangeLog) => {
    const feed = new RequestFeed({ changes: log, visibility, logger: pino({ level: 'silent' }), pollIntervalMs: POLL_MS });
    feeds.push(feed);
    return feed;
  };
  afterEach(async () => {
    for (const feed of feeds.splice(0)) await feed.close();
  });

  it('tells each subscriber of the changes it may see, once, from when it subscribed', async () => {
    const log = new FakeLog();
    log.commit(1, 'req_old');
    const feed = newFeed(log);
    const alice = listen(feed, { email: 'alice@example.com', admin: false });
    const carol = listen(feed, { email: 'carol@example.com', admin: false });
    const sec = listen(feed, { email: 'sec@example.com', admin: true });
    await log.polled();
    log.commit(2, 'req_a');
    log.commit(3, 'req_c', 'carol@example.com');
    await log.polled();
    assert.deepEqual(alice.heard, [2], 'not the change before it subscribed, not carol\'s request');
    assert.deepEqual(carol.heard, [3]);
    assert.deepEqual(sec.heard, [2, 3], 'an admin sees every request');
  });

  it('delivers a row that commits late into a hole below rows already delivered', async () => {
    const log = new FakeLog();
    const feed = newFeed(log);
    const sec = listen(feed, { email: 'sec@example.com', admin: true });
    await log.polled();
    log.commit(1, 'req_a');
    log.commit(3, 'req_c'); // 2 is still in a transaction
    await log.polled();
    assert.deepEqual(sec.heard, [1, 3]);
    log.commit(2, 'req_b');
    await log.polled();
    assert.deepEqual(sec.heard, [1, 3, 2], 'the late row is heard, and nothing twice');
    log.commit(4, 'req_d');
    await log.polled();
    assert.deepEqual(sec.heard, [1, 3, 2, 4]);
  });

  it('replays what a resuming subscriber missed, and resets one that missed too much', async () => {
    const log = new FakeLog();
    for (let id = 1; id <= 3; id++) log.commit(id, `req_${id}`);
    const feed = newFeed(log);
    const resumed = listen(feed, { email: 'sec@example.com', admin: true }, 1);
    await log.polled();
    assert.deepEqual(resumed.heard, [2, 3]);

    for (let id = 4; id <= 600; id++) log.commit(id, `req_${id}`);
    await log.polled();
    const behind = listen(feed, { email: 'sec@example.com', admin: true }, 3);
    await log.polled();
    assert.equal(behind.resets, 1, 'over 500 missed: start over');
    assert.deepEqual(behind.heard, []);
  });

  it('stops polling when nobody listens, and ends every stream when closed', async () => {
    const log = new FakeLog();
    const feed = newFeed(log);
    const listener = listen(feed, { email: 'sec@example.com', admin: true });
    await log.polled();
    listener.stop();
    await log.polled(1); // the poll already scheduled, after which the feed sees nobody and stops
    let readAgain = false;
    void log.polled(1).then(() => (readAgain = true));
    // Twenty poll intervals: a feed still polling would have read the log by then.
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 20));
    assert.equal(readAgain, false, 'no reads without subscribers');

    let ended = 0;
    feed.subscribe({ caller: { email: 'a@example.com', admin: false }, onChange: () => undefined, onReset: () => undefined, onEnd: () => (ended += 1) });
    await feed.close();
    assert.equal(ended, 1);
  });
});
