/**
 * Promises about ending access that need a misbehaving provider or an outside hand, end to end (real
 * API, worker and Temporal dev server, moto for IAM): a removal that does not take is made again; the
 * `temporal` CLI cancelling a request's workflow ends access like a revoke; and the reconciler,
 * running while a removal is under way, neither removes the grant a second time nor reports it.
 * The worker's AWS provider is wrapped so a test can make it ignore a removal or stop inside one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GrantSpec, MarkedGrant, Provider } from '../providers/provider';
import { temporalCliPath } from '../scripts/temporalDevServer';
import type { RequestView } from '../shared/request';
import { Harness } from './support/harness';
import { ensureCatalogObjects, holdings, newRequester } from './support/iam';

const BOB = 'bob@example.com';

/** What the wrapped provider does, and saw, per request. */
interface Behaviour {
  /** Removals of these requests are answered as done, and nothing is removed (once each). */
  ignoreRemoval: Set<string>;
  /** The first removal of each of these requests stops before (`before`) or after (`after`) the provider call, until released. */
  holdRemoval: Map<string, { at: 'before' | 'after'; reached: () => void; release: Promise<void> }>;
  revokes: Map<string, number>;
  removedMarked: MarkedGrant[];
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('ending access when something gets in the way', function () {
  this.timeout(120_000);
  let h: Harness;
  const behaviour: Behaviour = { ignoreRemoval: new Set(), holdRemoval: new Map(), revokes: new Map(), removedMarked: [] };

  function wrapped(provider: Provider): Provider {
    return {
      name: provider.name,
      propagation: provider.propagation,
      inspect: (spec) => provider.inspect(spec),
      grant: (spec) => provider.grant(spec),
      isGranted: (spec) => provider.isGranted(spec),
      listMarked: () => provider.listMarked(),
      revoke: async (spec: GrantSpec) => {
        behaviour.revokes.set(spec.requestId, (behaviour.revokes.get(spec.requestId) ?? 0) + 1);
        if (behaviour.ignoreRemoval.delete(spec.requestId)) return;
        // Only the first removal holds: another (the reconciler's, were it to remove it too) goes through and is counted.
        const hold = behaviour.holdRemoval.get(spec.requestId);
        behaviour.holdRemoval.delete(spec.requestId);
        if (hold?.at === 'before') {
          hold.reached();
          await hold.release;
        }
        await provider.revoke(spec);
        if (hold?.at === 'after') {
          hold.reached();
          await hold.release;
        }
      },
      removeMarked: async (grant) => {
        behaviour.removedMarked.push(grant);
        await provider.removeMarked(grant);
      },
    };
  }

  before(async () => {
    h = await Harness.start(undefined, { wrapProvider: wrapped });
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  async function activeGrant(email: string, body: { kind: string; target: string; duration: string }): Promise<RequestView> {
    const created = await h.request(email, { provider: 'aws', reason: 'ending access', ...body });
    assert.equal((await h.act(BOB, created.id, 'approve')).status, 200);
    return h.waitFor(email, created.id, ['active'], 30_000);
  }

  it('removes a grant again when it still reads back after its removal', async () => {
    const { email, userName } = await newRequester(h.iam);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'ending access', duration: '2s' });
    behaviour.ignoreRemoval.add(created.id);
    await h.act(BOB, created.id, 'approve');
    const expired = await h.waitFor(email, created.id, ['expired'], 30_000);
    assert.equal(behaviour.revokes.get(created.id), 2, 'the first removal did not take; verifyRevocation made it again');
    assert.deepEqual((await holdings(h.iam, userName)).groups, []);
    const end = (await h.requests.events(created.id)).at(-1)!;
    assert.deepEqual([end.type, end.details?.removedAtProvider], ['expired', true]);
    assert.ok(Date.parse(expired.endedAt!) - Date.parse(expired.expiresAt!) < 10_000, 'and still on time');
  });

  it('`temporal workflow cancel` on an active request ends its access like a revoke', async () => {
    const { email, userName } = await newRequester(h.iam);
    const active = await activeGrant(email, { kind: 'role', target: 'AdminRole', duration: '10m' });
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [`p0-${active.id}`]);
    await promisify(execFile)(await temporalCliPath(), ['workflow', 'cancel', '--workflow-id', active.id, '--address', h.temporalAddress, '--namespace', 'default']);
    const ended = await h.waitFor(email, active.id, ['revoked'], 30_000);
    assert.equal(ended.decision?.comment, 'workflow cancelled');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
    const events = await h.requests.events(active.id);
    assert.deepEqual(events.map((event) => event.type), ['requested', 'approved', 'provisioning', 'granted', 'active', 'revoked']);
    assert.equal(events.at(-1)!.details?.removedAtProvider, true);
  });

  it('the reconciler, running while removals are under way, neither removes them again nor reports them', async () => {
    const { email, userName } = await newRequester(h.iam);
    // A role grant (a marked inline policy, which the reconciler lists) stopped just before its
    // removal: the lease is released, the grant still there, the request still active. A group
    // membership stopped just after its removal: gone at the provider, the request still active.
    const role = await activeGrant(email, { kind: 'role', target: 'AdminRole', duration: '10m' });
    const group = await activeGrant(email, { kind: 'group', target: 'Developers', duration: '10m' });
    const [roleReached, groupReached, release] = [gate(), gate(), gate()];
    behaviour.holdRemoval.set(role.id, { at: 'before', reached: roleReached.open, release: release.promise });
    behaviour.holdRemoval.set(group.id, { at: 'after', reached: groupReached.open, release: release.promise });
    const relinquished = [role, group].map((request) => h.act(email, request.id, 'relinquish'));
    await Promise.all([roleReached.promise, groupReached.promise]);
    assert.deepEqual(await holdings(h.iam, userName), { inlinePolicies: [`p0-${role.id}`], attachedPolicies: [], groups: [] });

    try {
      const report = await h.reconcile();
      const mentions = (list: Array<{ requestId?: string }>) => list.filter((entry) => entry.requestId === role.id || entry.requestId === group.id);
      assert.deepEqual(mentions(report.orphans), [], 'no orphan reported for a removal under way');
      assert.deepEqual(mentions(report.missing), [], 'nor a grant missing from an active request');
      assert.deepEqual(behaviour.removedMarked.filter((grant) => grant.requestId === role.id), [], 'the reconciler removed nothing');
    } finally {
      release.open();
    }
    for (const answer of await Promise.all(relinquished)) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await h.waitFor(email, role.id, ['relinquished']);
    await h.waitFor(email, group.id, ['relinquished']);
    assert.deepEqual(await holdings(h.iam, userName), { inlinePolicies: [], attachedPolicies: [], groups: [] });
    assert.deepEqual([behaviour.revokes.get(role.id), behaviour.revokes.get(group.id)], [1, 1], 'each removed once, by its own request');
    const events = await h.reconcileEvents.list({});
    assert.deepEqual(events.filter((event) => event.requestId === role.id || event.requestId === group.id), [], 'the reconciler recorded nothing about them');
  });
});
