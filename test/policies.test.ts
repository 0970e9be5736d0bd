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
import type { RequestView } from '../workflows/types';
import { Harness } from './support/harness';
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
          breakGlass: { maxDuration: 10s }
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
    assert.equal(twice.status, 409, 'the same approver twice does not count');
    assert.match(twice.body.error!.message, /already approved/);
    await h.act(DANA, created.id, 'approve');
    const active = await h.waitFor(PLAT, created.id, ['active']);
    assert.deepEqual(active.approvals.map((approval) => approval.by), [BOB, DANA]);
    await h.act(PLAT, created.id, 'relinquish');
  });

  it('knows Alice@Example.com and alice@example.com as one person: she cannot approve her own request', async () => {
    const created = await h.request('Alice@Example.com', { provider: 'aws', resource: 'prod', level: 'alice-readonly', reason: 'look', duration: '1m' });
    const self = await h.act(ALICE, created.id, 'approve');
    assert.equal(self.status, 403, JSON.stringify(self.body));
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
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /a ticket id such as INC-42/);
    const missing = await h.call<{ error: { message: string } }>(PLAT, 'POST', '/v1/requests', { provider: 'aws', kind: 'role', target: 'AdminRole' });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /requires a reason/);
  });

  it("answers \"This resource doesn't exist\" to someone the level is not offered to", async () => {
    const refused = await h.call<{ error: { message: string } }>(CAROL, 'POST', '/v1/requests', {
      provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'INC-1', duration: '1m',
    });
    assert.equal(refused.status, 404);
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

  it('grants break-glass access at once, capped, marked loudly, and reviewed afterwards', async () => {
    const tooLong = await h.call(PLAT, 'POST', '/v1/requests', { provider: 'aws', kind: 'group', target: 'Developers', reason: 'outage', duration: '1h', breakGlass: true });
    assert.equal(tooLong.status, 400, 'break-glass is capped at its own maximum');
    const notAllowed = await h.call(PLAT, 'POST', '/v1/requests', { provider: 'aws', kind: 'policy', target: 'ReadOnlyAccess', reason: 'x', duration: '5s', breakGlass: true });
    assert.equal(notAllowed.status, 400);

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
    assert.equal((await h.act(PLAT, created.id, 'review')).status, 403, 'the requester cannot review it');
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
    assert.equal(plain.status, 409, JSON.stringify(plain.body));
    assert.equal(plain.body.error?.code, 'conflict');
    assert.match(plain.body.error?.message ?? '', new RegExp(`approves the request, but the request is active and now asks for an extension of 6s \\(${extensionId}\\)`));
    const wrongId = await h.act(BOB, created.id, 'deny', 'no', 'ext-1');
    assert.equal(wrongId.status, 409, JSON.stringify(wrongId.body));
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
      assert.equal((await h.act(BOB, after.id, 'approve')).status, 403);
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
