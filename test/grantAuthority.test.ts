/**
 * provision's authority check alone (activities/grantAuthority.ts): config and signatures in, the
 * problem out. Each test pins one rule; test/trust.test.ts drives the same rules end to end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { grantAuthorityProblem, type AuthorityCheck } from '../activities/grantAuthority';
import type { GrantSpec } from '../providers/provider';
import { LivePolicy } from '../service/livePolicy';
import { MessageSigner, SIGNED_MESSAGE, updatePurpose } from '../service/messageSigning';
import type { DecisionInput, ExtendInput } from '../workflows/messages';
import type { AccessRequestInput } from '../workflows/types';
import type { RequestView } from '../shared/request';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const DANA = 'dana@example.com';
const ID = 'req_01JABCDEFGHJKMNPQRSTVWXYZ0';
/** The run of the workflow the activity runs in. */
const RUN = '3b0c1f52-0d7e-4a8e-9a53-5b3b2c9f0001';

const policy = LivePolicy.fromText(
  `
approvers:
  sre: [bob@example.com, dana@example.com, alice@example.com]
catalog:
  aws:
    - resource: prod
      account: '123456789012'
      levels:
        - { level: admin, kind: role, target: AdminRole, approvers: [sre], approvals: 2 }
`,
  'test.yaml',
).current();

const signer = new MessageSigner(randomBytes(32));

function signedInput(overrides: Partial<AccessRequestInput> = {}): AccessRequestInput {
  const input: AccessRequestInput = {
    id: ID,
    requester: ALICE,
    provider: 'aws',
    resource: 'prod',
    level: 'admin',
    kind: 'role',
    target: 'AdminRole',
    scope: { account: '123456789012' },
    reason: 'deploy',
    duration: '1h',
    durationSeconds: 3600,
    approvers: [BOB, DANA, ALICE],
    approvalsRequired: 2,
    allowSelfApproval: false,
    breakGlass: false,
    extension: { allowed: false, minSeconds: 60, maxSeconds: 3600 },
    policyVersion: 'v1',
    approvalTimeoutSeconds: 600,
    verifyTimeoutSeconds: 60,
    createdAt: '2026-12-03T00:00:00.000Z',
    ...overrides,
  };
  return signer.signMessage(SIGNED_MESSAGE.request, input.id, input);
}

function approve(actor: string, comment?: string, subject?: string, sentAt = '2026-12-03T00:01:00.000Z'): DecisionInput {
  return signer.signMessage(updatePurpose('approve'), ID, { actor, comment, subject, sentAt });
}

function extend(durationSeconds: number, sentAt: string, autoApprovedBy?: string): ExtendInput {
  return signer.signMessage(updatePurpose('extend'), ID, { actor: ALICE, duration: `${durationSeconds}s`, durationSeconds, autoApprovedBy, sentAt });
}

const ACTIVE_AT = '2026-12-03T00:02:00.000Z';
/** The backstop the workflow asks for: activeAt + duration + extensions + verifyTimeout. */
function backstop(extensionSeconds: number): string {
  return new Date(Date.parse(ACTIVE_AT) + (3600 + extensionSeconds + 60) * 1000).toISOString();
}

function specFor(input: AccessRequestInput, overrides: Partial<GrantSpec> = {}): GrantSpec {
  return {
    requestId: input.id,
    provider: input.provider,
    resource: input.resource,
    scope: input.scope ?? {},
    kind: input.kind,
    target: input.target,
    principal: input.requester,
    notAfter: '2026-12-03T02:00:00.000Z',
    ...overrides,
  };
}

function check(input: AccessRequestInput, approvals: DecisionInput[], overrides: Partial<AuthorityCheck> = {}): string | undefined {
  return grantAuthorityProblem({ spec: specFor(input), evidence: { input, approvals }, workflowId: ID, runId: RUN, grantedInRun: undefined, stored: undefined, policy, signing: signer, ...overrides });
}

describe('grant authority (provision)', () => {
  describe('once active (reprovisioning, backstop renewals)', () => {
    const input = signedInput({ extension: { allowed: true, minSeconds: 60, maxSeconds: 3600 } });
    const approvals = [approve(BOB), approve(DANA)];
    function renewal(extensions: NonNullable<AuthorityCheck['evidence']>['extensions'], extensionSeconds: number): string | undefined {
      return grantAuthorityProblem({
        spec: specFor(input, { notAfter: backstop(extensionSeconds) }),
        evidence: { input, approvals, activeAt: ACTIVE_AT, extensions },
        workflowId: ID,
        runId: RUN,
        grantedInRun: RUN,
        stored: undefined,
        policy,
        signing: signer,
      });
    }

    it('backs a backstop that the signed duration and signed extensions cover, and no later one', () => {
      assert.equal(renewal([], 0), undefined);
      assert.match(renewal([], 600)!, /past what its signed duration and extensions allow/);
      const auto = { request: extend(600, '2026-12-03T00:10:00.000Z', 'oncall'), approvals: [] };
      assert.equal(renewal([auto], 600), undefined);
      const approved = { id: 'ext-9', request: extend(900, '2026-12-03T00:20:00.000Z'), approvals: [approve(BOB, 'ok', 'ext-9', '2026-12-03T00:21:00.000Z'), approve(DANA, undefined, 'ext-9', '2026-12-03T00:22:00.000Z')] };
      assert.equal(renewal([auto, approved], 1500), undefined);
    });

    it('refuses an unsigned extension, a replayed one, and one outside the signed bounds', () => {
      const forged = { request: { ...extend(600, '2026-12-03T00:10:00.000Z', 'oncall'), durationSeconds: 3000 }, approvals: [] };
      assert.match(renewal([forged], 3000)!, /extension 1 is not signed/);
      const auto = { request: extend(600, '2026-12-03T00:10:00.000Z', 'oncall'), approvals: [] };
      assert.match(renewal([auto, auto], 1200)!, /extension 2 is a signed extend used twice \(replayed\)/);
      assert.match(renewal([{ request: extend(7200, '2026-12-03T00:10:00.000Z', 'oncall'), approvals: [] }], 7200)!, /outside what the request allows/);
    });

    it('needs the quorum for an extension from approves naming it, sent after it, not the request approvals again', () => {
      const asked = extend(900, '2026-12-03T00:20:00.000Z');
      const late = (actor: string) => approve(actor, undefined, 'ext-9', '2026-12-03T00:21:00.000Z');
      assert.match(renewal([{ id: 'ext-9', request: asked, approvals: [late(BOB)] }], 900)!, /extension 1: 1 of the 2 approval/);
      assert.match(renewal([{ id: 'ext-9', request: asked, approvals: [late(BOB), approvals[1]!] }], 900)!, /is for undefined, not ext-9/);
      // A minute of clock difference between API processes is tolerated; more is not.
      assert.equal(renewal([{ id: 'ext-9', request: asked, approvals: [late(BOB), approve(DANA, undefined, 'ext-9', '2026-12-03T00:19:30.000Z')] }], 900), undefined);
      const early = approve(DANA, undefined, 'ext-9', '2026-12-03T00:15:00.000Z');
      assert.match(renewal([{ id: 'ext-9', request: asked, approvals: [late(BOB), early] }], 900)!, /sent before the extension it approves/);
      const forged = { ...late(DANA), signature: `v1.${randomBytes(32).toString('base64url')}` };
      assert.match(renewal([{ id: 'ext-9', request: asked, approvals: [late(BOB), forged] }], 900)!, /approval by dana@example.com is not signed/);
    });
  });

  it('backs a signed request with a quorum of signed approvals from distinct approvers', () => {
    assert.equal(check(signedInput(), [approve(BOB), approve(DANA, 'ok')]), undefined);
  });

  it('refuses no evidence, an unsigned input, and a signed input changed afterwards', () => {
    const input = signedInput();
    assert.match(check(input, [], { evidence: undefined })!, /no signed request came with it/);
    const { signature: _signature, ...unsigned } = input;
    assert.match(check(unsigned, [approve(BOB), approve(DANA)])!, /not signed by the request service/);
    assert.match(check({ ...input, approvalsRequired: 1 }, [approve(BOB)])!, /changed since it was signed/);
  });

  it('refuses a signed input in another workflow, or one the store shows ended', () => {
    const input = signedInput();
    assert.match(check(input, [approve(BOB), approve(DANA)], { workflowId: 'req_other' })!, /arrived in another workflow/);
    const ended = { status: 'expired' } as RequestView;
    assert.match(check(input, [approve(BOB), approve(DANA)], { stored: ended })!, /already ended \(expired\)/);
    assert.equal(check(input, [approve(BOB), approve(DANA)], { stored: { status: 'provisioning' } as RequestView }), undefined);
  });

  it('refuses a run of the workflow other than the one that first granted it (a re-run or a reset), whatever the store says', () => {
    const input = signedInput();
    const active = { status: 'active' } as RequestView;
    assert.match(
      check(input, [approve(BOB), approve(DANA)], { stored: active, grantedInRun: 'an-earlier-run' })!,
      new RegExp(`first granted in another run of its workflow \\(an-earlier-run\\), not this one \\(${RUN}\\)`),
    );
    // The run that granted it grants again (a retry, a re-provision, a backstop renewal); so does a first grant.
    assert.equal(check(input, [approve(BOB), approve(DANA)], { stored: active, grantedInRun: RUN }), undefined);
    assert.equal(check(input, [approve(BOB), approve(DANA)], { grantedInRun: undefined }), undefined);
  });

  it('recounts the quorum: one approver twice is one, the requester does not count, nor does a non-approver', () => {
    const input = signedInput();
    assert.match(check(input, [approve(BOB), approve(BOB, 'again', undefined, '2026-12-03T00:01:30.000Z')])!, /1 of the 2 approval/);
    // The very same signed message twice is a replay, not a second approval.
    assert.match(check(input, [approve(BOB), approve(BOB)])!, /approval by bob@example.com is used twice \(replayed\)/);
    assert.match(check(input, [approve(BOB), approve(ALICE)])!, /1 of the 2 approval/);
    assert.match(check(input, [approve(BOB), approve('mallory@example.com')])!, /1 of the 2 approval/);
    assert.equal(check(signedInput({ allowSelfApproval: true }), [approve(BOB), approve(ALICE)]), undefined);
  });

  it('refuses an approval whose signature does not verify, even beside a quorum of good ones', () => {
    const forged = { actor: DANA, signature: `v1.${randomBytes(32).toString('base64url')}` };
    assert.match(check(signedInput(), [approve(BOB), forged])!, /approval by dana@example.com is not signed/);
    const otherRequest = signer.signMessage(updatePurpose('approve'), 'req_01JABCDEFGHJKMNPQRSTVWXYZ1', { actor: DANA });
    assert.match(check(signedInput(), [approve(BOB), otherRequest])!, /approval by dana@example.com is not signed/);
    const aDenial = signer.signMessage(updatePurpose('deny'), ID, { actor: DANA });
    assert.match(check(signedInput(), [approve(BOB), aDenial])!, /approval by dana@example.com is not signed/);
  });

  it('needs no approvals when the signed input is auto-approved or break-glass', () => {
    assert.equal(check(signedInput({ autoApprovedBy: 'oncall' }), []), undefined);
    assert.equal(check(signedInput({ breakGlass: true }), []), undefined);
  });

  it('grants only what the current catalog entry grants, to the signed requester', () => {
    const input = signedInput();
    const approvals = [approve(BOB), approve(DANA)];
    const evidence = { input, approvals };
    const base = { evidence, workflowId: ID, runId: RUN, grantedInRun: undefined, stored: undefined, policy, signing: signer };
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { target: 'OtherRole' }) })!, /not what aws\/prod\/admin grants/);
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { scope: { account: '999999999999' } }) })!, /not what aws\/prod\/admin grants/);
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { principal: 'mallory@example.com' }) })!, /grant is for mallory@example.com/);
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { requestId: 'req_other' }) })!, /keyed to req_other/);
    const gone = signedInput({ level: 'superadmin' });
    assert.match(check(gone, approvals)!, /catalog no longer offers aws\/prod\/superadmin/);
  });
});
