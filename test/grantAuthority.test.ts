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
import type { ActorInput } from '../workflows/messages';
import type { AccessRequestInput, RequestView } from '../workflows/types';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const DANA = 'dana@example.com';
const ID = 'req_01JABCDEFGHJKMNPQRSTVWXYZ0';

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

function approve(actor: string, comment?: string): ActorInput {
  return signer.signMessage(updatePurpose('approve'), ID, { actor, comment });
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

function check(input: AccessRequestInput, approvals: ActorInput[], overrides: Partial<AuthorityCheck> = {}): string | undefined {
  return grantAuthorityProblem({ spec: specFor(input), evidence: { input, approvals }, workflowId: ID, stored: undefined, policy, signing: signer, ...overrides });
}

describe('grant authority (provision)', () => {
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

  it('recounts the quorum: one approver twice is one, the requester does not count, nor does a non-approver', () => {
    const input = signedInput();
    assert.match(check(input, [approve(BOB), approve(BOB)])!, /1 of the 2 approval/);
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
    const base = { evidence, workflowId: ID, stored: undefined, policy, signing: signer };
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { target: 'OtherRole' }) })!, /not what aws\/prod\/admin grants/);
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { scope: { account: '999999999999' } }) })!, /not what aws\/prod\/admin grants/);
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { principal: 'mallory@example.com' }) })!, /grant is for mallory@example.com/);
    assert.match(grantAuthorityProblem({ ...base, spec: specFor(input, { requestId: 'req_other' }) })!, /keyed to req_other/);
    const gone = signedInput({ level: 'superadmin' });
    assert.match(check(gone, approvals)!, /catalog no longer offers aws\/prod\/superadmin/);
  });
});
