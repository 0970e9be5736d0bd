/**
 * The access policy enforced end to end: the real API, worker, Temporal and moto, with a catalog
 * that uses every rule.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { extendUpdate } from '../workflows/messages';
import { LivePolicy } from '../service/livePolicy';
import { RequestService } from '../service/requestService';
import type { RequestView } from '../shared/request';
import { updatePurpose } from '../service/messageSigning';
import { assertApiError } from './support/apiErrors';
import { Harness, testSigning } from './support/harness';
import { ensureCatalogObjects, holdings, inlinePolicyDocument } from './support/iam';
import { createIamUser } from './support/moto';

const BOB = 'bob@example.com';
const DANA = 'dana@example.com';
const PLAT = 'plat@example.com'; // platform team
const ONCALL = 'oncall@example.com'; // platform + oncall
const CAROL = 'carol@example.com'; // in no group
const ALICE = 'alice@example.com'; // approver (leads); spelled 'Alice@Example.com' as a requester

const POLICY_CONFIG = `
groups:
  platform: [${PLAT}, ${ONCALL}]
  oncall: [${ONCALL}]
approvers:
  sre: [${BOB}, ${DANA}]
  leads: [${ALICE}, ${BOB}]
admins: [sec@example.com]
approvalTimeout: 60s
verifyTimeout: 30s
catalog:
  aws:
    - resource: prod
      levels:
        - level: admin
          kind: role
          target: AdminRole
          approvers: [sre]
          approvals: 2
          requesters: { groups: [platform] }
          requireReason: true
          reasonPattern: '[A-Z]+-\\d+'
          reasonPatternDescription: a ticket id such as INC-42
          minDuration: 1s
          maxDuration: 1h
        - level: readonly
          kind: policy
          target: ReadOnlyAccess
          approvers: [sre]
          readOnly: true
          minDuration: 1s
          maxDuration: 1h
        - level: dev
          kind: group
          target: Developers
          approvers: [sre]
          minDuration: 1s
          maxDuration: 1h
          breakGlass: { maxDuration: 1m }
        - level: alice-readonly
          kind: policy
          target: ReadOnlyAccess
          approvers: [leads]
          requesters: { users: ['Alice@Example.com'] }
          minDuration: 1s
          maxDuration: 1h
autoApproval:
  - name: oncall-readonly
    requesterGroups: [oncall]
    readOnly: true
    maxDuration: 30m
aws:
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
`;

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('access policies, enforced end to end', function () {
  this.timeout(120_000);
  let h: Harness;
  const userNames = new Map<string, string>();

  before(async () => {
    h = await Harness.start(POLICY_CONFIG);
    await ensureCatalogObjects(h.iam);
    for (const email of [PLAT, ONCALL]) userNames.set(email, await createIamUser(h.iam, email, { tag: true }));
  });
  after(() => h?.stop());

  it('needs two distinct approvers when the level says approvals: 2', async () => {
    const created = await h.request(PLAT, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'INC-42 hotfix', duration: '1m' });
    assert.equal(created.approvalsRequired, 2);
    assert.equal((await h.act(BOB, created.id, 'approve')).body.request.status, 'pending', 'one approval is not enough');
    const twice = await h.act(BOB, created.id, 'approve');
    assertApiError(twice, 'conflict'); // the same approver twice does not count
    assert.match(twice.body.error!.message, /already approved/);
    await h.act(DANA, created.id, 'approve');
    const active = await h.waitFor(PLAT, created.id, ['active']);
    assert.deepEqual(active.approvals.map((approval) => approval.by), [BOB, DANA]);
    await h.act(PLAT, created.id, 'relinquish');
  });

  it('knows Alice@Example.com and alice@example.com as one person: she cannot approve her own request', async () => {
    const created = await h.request('Alice@Example.com', { provider: 'aws', resource: 'prod', level: 'alice-readonly', reason: 'look', duration: '1m' });
    const self = await h.act(ALICE, created.id, 'approve');
    assertApiError(self, 'forbidden');
    assert.equal(self.body.error?.message, 'You cannot approve your own request');
    assert.equal(created.requester, ALICE);
    assert.equal((await h.act(ALICE, created.id, 'cancel')).status, 200, 'she is the requester in either spelling');
    const me = await h.call<{ user: { email: string } }>(' ALICE@Example.COM', 'GET', '/v1/me');
    assert.equal(me.body.user.email, ALICE, 'a token issued as typed belongs to the lower-cased address');
  });

  it('refuses a reason that does not match the pattern, naming what is expected', async () => {
    const refused = await h.call<{ error: { message: string } }>(PLAT, 'POST', '/v1/requests', {
      provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'because', duration: '1m',
    });
    assertApiError(refused, 'bad_request');
    assert.match(refused.body.error.message, /a ticket id such as INC-42/);
    const missing = await h.call<{ error: { message: string } }>(PLAT, 'POST', '/v1/requests', { provider: 'aws', kind: 'role', target: 'AdminRole' });
    assertApiError(missing, 'bad_request');
    assert.match(missing.body.error.message, /requires a reason/);
  });

  it("answers \"This resource doesn't exist\" to someone the level is not offered to", async () => {
    const refused = await h.call<{ error: { message: string } }>(CAROL, 'POST', '/v1/requests', {
      provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'INC-1', duration: '1m',
    });
    assertApiError(refused, 'not_found');
    assert.match(refused.body.error.message, /This resource doesn't exist/);
    const catalog = await h.call<{ resources: Array<{ id: string }> }>(CAROL, 'GET', '/v1/resources');
    assert.deepEqual(catalog.body.resources.map((entry) => entry.id), ['aws/prod/readonly', 'aws/prod/dev']);
  });

  it('auto-approves by rule, recorded as approved by the policy', async () => {
    const created = await h.request(ONCALL, { provider: 'aws', resource: 'prod', level: 'readonly', reason: 'look', duration: '5m' });
    const active = await h.waitFor(ONCALL, created.id, ['active']);
    assert.deepEqual(active.approvals.map((approval) => approval.by), ['policy:oncall-readonly']);
    const approvedEvent = (await h.requests.events(created.id)).find((event) => event.type === 'approved');
    assert.equal(approvedEvent?.actor, 'policy:oncall-readonly');

    // The rule covers extensions too: applied at once.
    const extended = await h.call<{ request: RequestView }>(ONCALL, 'POST', `/v1/requests/${created.id}/extend`, { duration: '5m' });
    assert.equal(extended.status, 200, JSON.stringify(extended.body));
    assert.equal(Date.parse(extended.body.request.expiresAt!) - Date.parse(active.expiresAt!), 300_000);
    await h.act(ONCALL, created.id, 'relinquish');

    // Not in the oncall group: the same request waits for a human.
    const other = await h.request(PLAT, { provider: 'aws', resource: 'prod', level: 'readonly', reason: 'look', duration: '5m' });
    await sleep(500);
    assert.equal((await h.waitFor(PLAT, other.id, ['pending'])).status, 'pending');
    await h.act(PLAT, other.id, 'cancel');
  });

  it("caps auto-approved extensions at the level's maxDuration in all, in the service and in the workflow", async () => {
    // readonly: maxDuration 1h; the rule approves 30m or less. Without a cap, extensions would go on forever.
    const created = await h.request(ONCALL, { provider: 'aws', resource: 'prod', level: 'readonly', reason: 'look', duration: '20m' });
    const active = await h.waitFor(ONCALL, created.id, ['active']);
    const answers: Array<{ status: number; message?: string }> = [];
    for (let extension = 0; extension < 5; extension += 1) {
      const answer = await h.call<{ request: RequestView; error?: { message: string } }>(ONCALL, 'POST', `/v1/requests/${created.id}/extend`, { duration: '10m' });
      answers.push({ status: answer.status, message: answer.body.error?.message });
    }
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200, 409], JSON.stringify(answers));
    assert.equal(
      answers[4]!.message,
      'duration: an extension of 10m would make this access last 70m in all, past the maximum lifetime of 1h of aws/prod/readonly (nothing left: request it anew)',
    );
    const extended = await h.waitFor(ONCALL, created.id, ['active']);
    assert.deepEqual(extended.extensions.map((extension) => extension.approvedBy), Array(4).fill(['policy:oncall-readonly']));
    assert.equal(Date.parse(extended.expiresAt!) - Date.parse(active.expiresAt!), 40 * 60_000);

    // The workflow holds the cap it was started with: an update sent past the service is refused too.
    const connection = await Connection.connect({ address: h.temporalAddress });
    try {
      const handle = new Client({ connection }).workflow.getHandle(created.id);
      const bypass = await handle
        // Signed as the request service would: the cap holds even for a message the worker trusts.
        .executeUpdate(extendUpdate, {
          args: [
            testSigning.signMessage(updatePurpose(extendUpdate.name), created.id, {
              actor: ONCALL,
              duration: '1m',
              durationSeconds: 60,
              autoApprovedBy: 'oncall-readonly',
              sentAt: new Date().toISOString(),
            }),
          ],
        })
        .then(() => undefined, (error: unknown) => error);
      assert.ok(bypass instanceof WorkflowUpdateFailedError, `accepted: ${String(bypass)}`);
      assert.equal((bypass.cause as Error).message, 'An extension of 60s would take this access past its maximum lifetime of 3600s (0s left)');
    } finally {
      await connection.close();
    }
    await h.act(ONCALL, created.id, 'relinquish');
  });

  const GLASS = { provider: 'aws', kind: 'group', target: 'Developers', duration: '10s', breakGlass: true } as const;

  it('break-glass needs a reason, even where normal requests do not', async () => {
    const noReason = await h.call<{ error: { message: string } }>(ONCALL, 'POST', '/v1/requests', { ...GLASS, reason: ' ' });
    assertApiError(noReason, 'bad_request');
    assert.equal(noReason.body.error.message, 'reason: break-glass access to aws/prod/dev needs a reason: say what is broken');
  });

  it('break-glass is limited to one unreviewed request per person, active or ended', async () => {
    const first = await h.request(ONCALL, { ...GLASS, reason: 'database down INC-3' });
    // At once, before the worker may have recorded the first one: still refused.
    const chained = await h.call<{ error: { message: string } }>(ONCALL, 'POST', '/v1/requests', { ...GLASS, reason: 'still down' });
    assertApiError(chained, 'conflict');
    assert.equal(chained.body.error.message, 'breakGlass: you have 1 break-glass request not yet reviewed (at most 1 per person): an approver must review it first');
    await h.waitFor(ONCALL, first.id, ['active']);
    await h.act(ONCALL, first.id, 'relinquish');
    // Ended but not reviewed: still counted.
    assertApiError(await h.call(ONCALL, 'POST', '/v1/requests', { ...GLASS, reason: 'again' }), 'conflict');
    assert.equal((await h.act(DANA, first.id, 'review', 'checked with the team')).status, 200);
    const next = await h.request(ONCALL, { ...GLASS, reason: 'again, reviewed now' });
    await h.waitFor(ONCALL, next.id, ['active']);
    await h.act(ONCALL, next.id, 'relinquish');
    assert.equal((await h.act(BOB, next.id, 'review', 'fine')).status, 200);
  });

  it('break-glass access may be revoked by its approvers, not only by admins', async () => {
    const glass = await h.request(ONCALL, { ...GLASS, duration: '1m', reason: 'cache stampede INC-4' });
    await h.waitFor(ONCALL, glass.id, ['active']);
    assertApiError(await h.act(CAROL, glass.id, 'revoke'), 'forbidden'); // not an approver
    const revoked = await h.act(BOB, glass.id, 'revoke', 'not an emergency');
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((await h.waitFor(ONCALL, glass.id, ['revoked'])).decision?.by, BOB);
    assert.deepEqual((await holdings(h.iam, userNames.get(ONCALL)!)).groups, []);
    assert.equal((await h.act(DANA, glass.id, 'review', 'revoked: not an emergency')).status, 200);
  });

  it('grants break-glass access at once, capped, marked loudly, and reviewed afterwards', async () => {
    const tooLong = await h.call(PLAT, 'POST', '/v1/requests', { provider: 'aws', kind: 'group', target: 'Developers', reason: 'outage', duration: '1h', breakGlass: true });
    assertApiError(tooLong, 'bad_request'); // break-glass is capped at its own maximum
    const notAllowed = await h.call(PLAT, 'POST', '/v1/requests', { provider: 'aws', kind: 'policy', target: 'ReadOnlyAccess', reason: 'x', duration: '5s', breakGlass: true });
    assertApiError(notAllowed, 'bad_request');

    const created = await h.request(PLAT, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'outage', duration: '5s', breakGlass: true });
    const active = await h.waitFor(PLAT, created.id, ['active']);
    assert.equal(active.breakGlass, true);
    assert.deepEqual(active.approvals, []);
    assert.deepEqual((await holdings(h.iam, userNames.get(PLAT)!)).groups, ['Developers']);
    const events = await h.requests.events(created.id);
    const loud = events.find((event) => event.type === 'break_glass');
    assert.match(String(loud?.details?.warning), /BREAK-GLASS/);

    const queue = await h.call<{ requests: RequestView[] }>(BOB, 'GET', '/v1/requests?pendingApproval=true');
    assert.ok(queue.body.requests.some((view) => view.id === created.id), 'approvers see it until reviewed');
    assertApiError(await h.act(PLAT, created.id, 'review'), 'forbidden'); // the requester cannot review it
    await h.waitFor(PLAT, created.id, ['expired'], 20_000);
    const reviewed = await h.act(BOB, created.id, 'review', 'justified: outage INC-7');
    assert.equal(reviewed.status, 200, JSON.stringify(reviewed.body));
    assert.equal(reviewed.body.request.review?.by, BOB);
    const after = await h.call<{ requests: RequestView[] }>(BOB, 'GET', '/v1/requests?pendingApproval=true');
    assert.ok(!after.body.requests.some((view) => view.id === created.id));
  });

  it('extends active access after approval: the timer and the AWS backstop move, with no gap', async () => {
    const userName = userNames.get(PLAT)!;
    const created = await h.request(PLAT, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'INC-9', duration: '6s' });
    await h.act(BOB, created.id, 'approve');
    await h.act(DANA, created.id, 'approve');
    const active = await h.waitFor(PLAT, created.id, ['active']);
    const policyName = `p0-${created.id}`;

    const asked = await h.call<{ request: RequestView }>(PLAT, 'POST', `/v1/requests/${created.id}/extend`, { duration: '6s', comment: 'need a bit more' });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    assert.equal(asked.body.request.pendingExtension?.duration, '6s');
    assert.equal(asked.body.request.expiresAt, active.expiresAt, 'nothing moves before approval');
    const extensionId = asked.body.request.pendingExtension?.id;
    assert.match(extensionId ?? '', /^ext-\d+$/);
    // An approve that does not name the extension (an old button for the request) decides nothing.
    const plain = await h.act(BOB, created.id, 'approve');
    assertApiError(plain, 'conflict');
    assert.equal(plain.body.error?.code, 'conflict');
    assert.match(plain.body.error?.message ?? '', new RegExp(`approves the request, but the request is active and now asks for an extension of 6s \\(${extensionId}\\)`));
    const wrongId = await h.act(BOB, created.id, 'deny', 'no', 'ext-1');
    assertApiError(wrongId, 'conflict');
    assert.deepEqual((await h.waitFor(PLAT, created.id, ['active'])).pendingExtension?.approvals, []);
    await h.act(BOB, created.id, 'approve', undefined, extensionId);
    const extended = await h.act(DANA, created.id, 'approve', undefined, extensionId);
    const newExpiresAt = Date.parse(extended.body.request.expiresAt!);
    assert.equal(newExpiresAt - Date.parse(active.expiresAt!), 6000);
    assert.deepEqual(extended.body.request.extensions.map((extension) => extension.approvedBy), [[BOB, DANA]]);

    // The provider-side backstop is renewed past the new end.
    const deadline = Date.now() + 5000;
    for (;;) {
      const document = await inlinePolicyDocument(h.iam, userName, policyName);
      const notAfter = Date.parse((document.Statement as Array<{ Condition: { DateLessThan: { 'aws:CurrentTime': string } } }>)[0]!.Condition.DateLessThan['aws:CurrentTime']);
      if (notAfter >= newExpiresAt) break;
      assert.ok(Date.now() < deadline, 'backstop not renewed');
      await sleep(200);
    }
    // Past the original end, access is still there.
    await sleep(Math.max(0, Date.parse(active.expiresAt!) + 1000 - Date.now()));
    assert.equal((await h.waitFor(PLAT, created.id, ['active'])).status, 'active');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [policyName]);

    const expired = await h.waitFor(PLAT, created.id, ['expired'], 30_000);
    assert.ok(Date.parse(expired.endedAt!) >= newExpiresAt);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  });

  it('provisions a scheduled request at its start time, not at approval', async () => {
    const userName = userNames.get(PLAT)!;
    const startAt = new Date(Date.now() + 4000).toISOString();
    const created = await h.request(PLAT, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'planned', duration: '3s', startAt });
    assert.equal(created.startAt, startAt);
    await h.act(BOB, created.id, 'approve');
    await sleep(1000);
    assert.equal((await h.waitFor(PLAT, created.id, ['approved'])).status, 'approved');
    assert.deepEqual((await holdings(h.iam, userName)).groups, []);
    const active = await h.waitFor(PLAT, created.id, ['active'], 20_000);
    assert.ok(Date.parse(active.activeAt!) >= Date.parse(startAt));
    await h.waitFor(PLAT, created.id, ['expired'], 20_000);
  });

  it('applies a changed config without a restart; running requests keep their rules', async () => {
    const before = await h.request(PLAT, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    const original = fs.readFileSync(h.configPath, 'utf8');
    try {
      // bob leaves the sre group (erin joins, so the two-approval level still has enough approvers).
      fs.writeFileSync(h.configPath, original.replace(`sre: [${BOB}, ${DANA}]`, `sre: [${DANA}, erin@example.com]`));
      const deadline = Date.now() + 10_000;
      let after: RequestView | undefined;
      while (!after) {
        const attempt = await h.request(PLAT, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
        if (!attempt.approvers.includes(BOB)) after = attempt;
        else await h.act(PLAT, attempt.id, 'cancel');
        assert.ok(Date.now() < deadline, 'the config change was not picked up');
        if (!after) await sleep(300);
      }
      assert.deepEqual(after.approvers, [DANA, 'erin@example.com']);
      assert.notEqual(after.policyVersion, before.policyVersion);
      // The earlier request was decided under the old rules: bob may still approve it.
      assert.equal((await h.act(BOB, before.id, 'approve')).status, 200);
      assertApiError(await h.act(BOB, after.id, 'approve'), 'forbidden');
      await h.act(PLAT, after.id, 'cancel');
      await h.waitFor(PLAT, before.id, ['active']);
      await h.act(PLAT, before.id, 'relinquish');
    } finally {
      fs.writeFileSync(h.configPath, original);
    }
  });
});

describe('a bad config', function () {
  this.timeout(60_000);
  it('stops the API at start-up with the file, the place and the problem', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-badconfig-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, POLICY_CONFIG.replace('approvers: [sre]\n          approvals: 2', 'approvers: [ops]\n          approvals: 2'));
    const failure = await execFileAsync(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, P0_CONFIG: file, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    }).then(
      () => assert.fail('the API started with a bad config'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failure.code, 1);
    assert.match(failure.stderr, /bad\.yaml: catalog\.aws\[0\]\.levels\[0\]\.approvers\[0\]: unknown approver group "ops"/);
    assert.doesNotMatch(failure.stderr, /\n\s+at /, 'no stack trace');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('break-glass counting in the request service (no servers)', () => {
  const CONFIG = `
approvers:
  sre: [${BOB}, ${DANA}]
catalog:
  aws:
    - resource: prod
      levels:
        - { level: dev, kind: group, target: Developers, approvers: [sre], breakGlass: { maxDuration: 10m } }
`;
  const glass = { provider: 'aws', resource: 'prod', level: 'dev', duration: '5m', reason: 'outage', breakGlass: true };
  const DAY_MS = 86_400_000;

  /** A service whose store holds `stored` and whose Temporal client starts workflows without a server. */
  function serviceOver(stored: RequestView[]): { service: RequestService; started: string[] } {
    const started: string[] = [];
    const client = { workflow: { start: (_type: string, options: { workflowId: string }) => Promise.resolve(started.push(options.workflowId)) } };
    const requests = { get: () => Promise.resolve(undefined), list: () => Promise.resolve(stored), events: () => Promise.resolve([]), eventsOf: () => Promise.resolve([]) };
    return { service: new RequestService({ client: client as never, policy: LivePolicy.fromText(CONFIG, 'test.yaml'), requests, signing: testSigning }), started };
  }

  function storedBreakGlass(overrides: Partial<RequestView>): RequestView {
    return {
      id: `req_${String(overrides.endedAt ?? 'active')}`, status: 'expired', requester: ONCALL, provider: 'aws', resource: 'prod', level: 'dev', kind: 'group',
      target: 'Developers', reason: 'outage', duration: '5m', durationSeconds: 300, approvers: [BOB, DANA], approvalsRequired: 1, approvals: [],
      createdAt: new Date().toISOString(), policyVersion: 'v1', breakGlass: true, extensions: [], version: 5, ...overrides,
    };
  }

  it('lets only one of two simultaneous break-glass requests through, before the store shows either', async () => {
    const { service, started } = serviceOver([]);
    const outcomes = await Promise.allSettled([service.create({ email: ONCALL, admin: false }, glass), service.create({ email: ONCALL, admin: false }, glass)]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
    assert.equal(started.length, 1);
    // Someone else is not held back by it.
    await service.create({ email: PLAT, admin: false }, glass);
  });

  it('counts unreviewed break-glass requests while they can still be reviewed, not reviewed ones or ones past the window', async () => {
    const reviewed = storedBreakGlass({ endedAt: new Date().toISOString(), review: { by: BOB, at: new Date().toISOString() } });
    const pastWindow = storedBreakGlass({ endedAt: new Date(Date.now() - 31 * DAY_MS).toISOString() });
    const normal = storedBreakGlass({ id: 'req_normal', breakGlass: undefined });
    assert.equal((await serviceOver([reviewed, pastWindow, normal]).service.create({ email: ONCALL, admin: false }, glass)).breakGlass, true);
    const endedYesterday = storedBreakGlass({ endedAt: new Date(Date.now() - DAY_MS).toISOString() });
    await assert.rejects(serviceOver([endedYesterday]).service.create({ email: ONCALL, admin: false }, glass), /1 break-glass request not yet reviewed/);
    await assert.rejects(serviceOver([storedBreakGlass({ status: 'active' })]).service.create({ email: ONCALL, admin: false }, glass), /not yet reviewed/);
  });
});
