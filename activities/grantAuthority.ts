/**
 * Whether a grant is backed by the product's own decision. Anyone who reaches the Temporal
 * namespace can start an accessRequest workflow or send it updates, and the workflow cannot tell
 * who did; so before anything is granted, the `provision` activity (in the worker's own process,
 * which holds the signing key and the live policy) checks here that:
 *   - the workflow's input was signed by the request service, for this very workflow, and the
 *     request has not already ended (a signed input replayed into a new workflow is refused), nor
 *     been granted in another run of its workflow (terminated and started again with the input
 *     copied from its history, or reset to before provisioning: the database still says active);
 *   - the approvals are signed approve updates from distinct approvers the signed input names
 *     (the requester only if self-approval is allowed), enough for its quorum; or the signed input
 *     itself says auto-approved or break-glass;
 *   - what is about to be granted (kind, target, scope) is what the current policy's catalog entry
 *     (provider/resource/level) grants, to the signed requester;
 *   - once active, every extension that moved the expiry is a signed extend from the requester within
 *     the signed bounds, auto-approved by the API or approved by signed approves naming it, sent after
 *     it; no signed message counts twice (a replayed one); and the grant's backstop (`notAfter`) is no
 *     later than the signed duration plus those extensions allow.
 */
import { canonicalJson, SIGNED_MESSAGE, updatePurpose, type MessageSigner } from '../service/messageSigning';
import type { Policy } from '../service/policy';
import type { GrantSpec } from '../providers/provider';
import { REQUEST_SUBJECT, approveUpdate, extendUpdate, type DecisionInput, type ExtendInput } from '../workflows/messages';
import { FINAL_STATUSES, type RequestView } from '../shared/request';
import type { AccessRequestInput } from '../workflows/types';

/** What the workflow hands `provision` as its authority: the messages exactly as it received them. */
export interface GrantEvidence {
  /** The workflow's input, with the request service's signature. */
  input: AccessRequestInput;
  /** The approve updates the workflow accepted for the request (not for extensions), signatures and all. */
  approvals: DecisionInput[];
  /** Once active: when the access clock started (set by the workflow itself, never by a message). */
  activeAt?: string;
  /** Once active: every extension that moved the expiry, with the messages that made it. */
  extensions?: ExtensionEvidence[];
}

/** One applied extension: the requester's signed extend, and the signed approves that met its quorum. */
export interface ExtensionEvidence {
  /** The extension's id (`ext-<seq>`), given by the workflow; approves name it as their subject. */
  id?: string;
  request: ExtendInput;
  approvals: DecisionInput[];
}

/** How much later than the evidence allows a backstop may be (clock and rounding slack). */
const NOT_AFTER_SLACK_MS = 1000;
/** API processes' clocks may differ this much: an approve stamped this much before its extension still counts. */
const SENT_AT_SKEW_MS = 60_000;

export interface AuthorityCheck {
  spec: GrantSpec;
  evidence: GrantEvidence | undefined;
  /** The id of the workflow the activity runs for. */
  workflowId: string;
  /** The id of the run of that workflow the activity runs for. */
  runId: string;
  /** The run that first provisioned the request (recorded with its grant lease), if any did. */
  grantedInRun: string | undefined;
  /** The store's view of the request, if it has one. */
  stored: RequestView | undefined;
  policy: Policy;
  signing: MessageSigner;
}

/** Undefined when the grant is backed; otherwise what is wrong, in words for the audit trail. */
export function grantAuthorityProblem(check: AuthorityCheck): string | undefined {
  const { spec, evidence, workflowId, runId, grantedInRun, stored, policy, signing } = check;
  const input = evidence?.input;
  if (!evidence || !input || typeof input !== 'object') {
    return 'no signed request came with it (made before requests were signed, or not by the request service)';
  }
  if (!signing.verifyMessage(SIGNED_MESSAGE.request, String(input.id), input)) {
    return 'the request is not signed by the request service (unsigned, or changed since it was signed)';
  }
  if (input.id !== workflowId) return `the signed request ${input.id} arrived in another workflow (${workflowId})`;
  if (stored && FINAL_STATUSES.includes(stored.status)) {
    return `request ${input.id} already ended (${stored.status}): a signed request is never granted twice`;
  }
  if (grantedInRun !== undefined && grantedInRun !== runId) return anotherRunProblem(input.id, grantedInRun, runId);

  /** Signatures already counted: a replayed message is the same signature again. */
  const counted = new Set<string>();
  const quorumProblem = approvalProblem(input, Array.isArray(evidence.approvals) ? evidence.approvals : [], signing, counted);
  if (quorumProblem) return quorumProblem;
  const extensions = extensionsProblem(input, Array.isArray(evidence.extensions) ? evidence.extensions : [], signing, counted);
  if (typeof extensions === 'string') return extensions;
  if (evidence.activeAt !== undefined) {
    const allowedMs = Date.parse(evidence.activeAt) + (input.durationSeconds + extensions.seconds + input.verifyTimeoutSeconds) * 1000;
    if (!(Date.parse(spec.notAfter) <= allowedMs + NOT_AFTER_SLACK_MS)) {
      return `the grant would last until ${spec.notAfter}, past what its signed duration and extensions allow (${new Date(allowedMs).toISOString()})`;
    }
  }

  const level = policy.levels.find((candidate) => candidate.provider === input.provider && candidate.resource === input.resource && candidate.level === input.level);
  const levelId = `${input.provider}/${input.resource}/${input.level}`;
  if (!level) return `the catalog no longer offers ${levelId}`;
  const asked = { provider: spec.provider, resource: spec.resource, kind: spec.kind, target: spec.target, scope: spec.scope };
  const offered = { provider: level.provider, resource: level.resource, kind: level.kind, target: level.target, scope: level.scope };
  if (canonicalJson(asked) !== canonicalJson(offered)) {
    return `the grant asked for (${describe(asked)}) is not what ${level.id} grants (${describe(offered)})`;
  }
  if (spec.principal !== input.requester) return `the grant is for ${spec.principal}, but ${input.requester} made the request`;
  if (spec.requestId !== input.id) return `the grant is keyed to ${spec.requestId}, but the signed request is ${input.id}`;
  return undefined;
}

/** A run of the request's workflow other than the one that made its grant: a re-run or a reset, never a fresh grant. */
export function anotherRunProblem(requestId: string, grantedInRun: string, runId: string): string {
  return `request ${requestId} was first granted in another run of its workflow (${grantedInRun}), not this one (${runId}): a request terminated and started again, or reset, is never granted anew`;
}

function approvalProblem(input: AccessRequestInput, approvals: readonly DecisionInput[], signing: MessageSigner, counted: Set<string>): string | undefined {
  if (input.breakGlass || input.autoApprovedBy) return undefined; // signed as part of the input
  for (const approval of approvals) {
    if ((approval?.subject ?? REQUEST_SUBJECT) !== REQUEST_SUBJECT) return `the approval by ${String(approval?.actor)} is for ${approval.subject}, not the request`;
  }
  const problem = quorumProblem(input, approvals, signing, counted, undefined);
  return problem && `${problem} for the request`;
}

/**
 * Distinct approvers the signed input names (the requester only with self-approval), each a signed
 * approve not counted before (and sent no earlier than `notBefore`), enough for the quorum.
 */
function quorumProblem(
  input: AccessRequestInput,
  approvals: readonly DecisionInput[],
  signing: MessageSigner,
  counted: Set<string>,
  notBefore: string | undefined,
): string | undefined {
  const approvers = new Set<string>();
  for (const approval of approvals) {
    if (!signing.verifyMessage(updatePurpose(approveUpdate.name), input.id, approval)) {
      return `the approval by ${String(approval?.actor)} is not signed by the request service`;
    }
    if (counted.has(approval.signature!)) return `the approval by ${approval.actor} is used twice (replayed)`;
    counted.add(approval.signature!);
    if (notBefore !== undefined && !(Date.parse(approval.sentAt ?? '') >= Date.parse(notBefore) - SENT_AT_SKEW_MS)) {
      return `the approval by ${approval.actor} was sent before the extension it approves`;
    }
    const mayApprove = input.approvers.includes(approval.actor) && (approval.actor !== input.requester || input.allowSelfApproval);
    if (mayApprove) approvers.add(approval.actor);
  }
  if (approvers.size < input.approvalsRequired) {
    return `${approvers.size} of the ${input.approvalsRequired} approval(s) it needs are signed by its approvers`;
  }
  return undefined;
}

/** The extensions' total length when every one is backed; otherwise what is wrong. */
function extensionsProblem(
  input: AccessRequestInput,
  extensions: readonly ExtensionEvidence[],
  signing: MessageSigner,
  counted: Set<string>,
): string | { seconds: number } {
  let seconds = 0;
  for (const [index, extension] of extensions.entries()) {
    const request = extension?.request;
    const which = `extension ${index + 1}`;
    if (!request || !signing.verifyMessage(updatePurpose(extendUpdate.name), input.id, request)) {
      return `${which} is not signed by the request service`;
    }
    if (counted.has(request.signature!)) return `${which} is a signed extend used twice (replayed)`;
    counted.add(request.signature!);
    if (request.actor !== input.requester) return `${which} was asked for by ${request.actor}, not the requester`;
    const { allowed, minSeconds, maxSeconds } = input.extension;
    if (!allowed || !(request.durationSeconds >= minSeconds && request.durationSeconds <= maxSeconds)) {
      return `${which} (${request.durationSeconds}s) is outside what the request allows`;
    }
    if (request.autoApprovedBy) {
      // The API never auto-approves a break-glass extension.
      if (input.breakGlass) return `${which} of break-glass access claims auto-approval`;
    } else {
      const approvals = Array.isArray(extension.approvals) ? extension.approvals : [];
      const misdirected = approvals.find((approval) => extension.id !== undefined && approval?.subject !== extension.id);
      if (misdirected) return `${which}: the approval by ${String(misdirected.actor)} is for ${String(misdirected.subject)}, not ${extension.id}`;
      const problem = quorumProblem(input, approvals, signing, counted, request.sentAt ?? '');
      if (problem) return `${which}: ${problem}`;
    }
    seconds += request.durationSeconds;
  }
  return { seconds };
}

function describe(grant: { provider: string; resource: string; kind: string; target: string; scope: Record<string, string> }): string {
  const scope = Object.entries(grant.scope ?? {}).map(([key, value]) => `${key}=${value}`);
  return [`${grant.provider}/${grant.resource}`, grant.kind, grant.target, ...scope].join(' ');
}
