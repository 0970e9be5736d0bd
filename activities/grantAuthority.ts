/**
 * Whether a grant is backed by the product's own decision. Anyone who reaches the Temporal
 * namespace can start an accessRequest workflow or send it updates, and the workflow cannot tell
 * who did; so before anything is granted, the `provision` activity (in the worker's own process,
 * which holds the signing key and the live policy) checks here that:
 *   - the workflow's input was signed by the request service, for this very workflow, and the
 *     request has not already ended (a signed input replayed into a new workflow is refused);
 *   - the approvals are signed approve updates from distinct approvers the signed input names
 *     (the requester only if self-approval is allowed), enough for its quorum; or the signed input
 *     itself says auto-approved or break-glass;
 *   - what is about to be granted (kind, target, scope) is what the current policy's catalog entry
 *     (provider/resource/level) grants, to the signed requester.
 */
import { canonicalJson, SIGNED_MESSAGE, updatePurpose, type MessageSigner } from '../service/messageSigning';
import type { Policy } from '../service/policy';
import type { GrantSpec } from '../providers/provider';
import { approveUpdate, type ActorInput } from '../workflows/messages';
import { FINAL_STATUSES, type AccessRequestInput, type RequestView } from '../workflows/types';

/** What the workflow hands `provision` as its authority: the messages exactly as it received them. */
export interface GrantEvidence {
  /** The workflow's input, with the request service's signature. */
  input: AccessRequestInput;
  /** The approve updates the workflow accepted for the request (not for extensions), signatures and all. */
  approvals: ActorInput[];
}

export interface AuthorityCheck {
  spec: GrantSpec;
  evidence: GrantEvidence | undefined;
  /** The id of the workflow the activity runs for. */
  workflowId: string;
  /** The store's view of the request, if it has one. */
  stored: RequestView | undefined;
  policy: Policy;
  signing: MessageSigner;
}

/** Undefined when the grant is backed; otherwise what is wrong, in words for the audit trail. */
export function grantAuthorityProblem(check: AuthorityCheck): string | undefined {
  const { spec, evidence, workflowId, stored, policy, signing } = check;
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

  const quorumProblem = approvalProblem(input, Array.isArray(evidence.approvals) ? evidence.approvals : [], signing);
  if (quorumProblem) return quorumProblem;

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

function approvalProblem(input: AccessRequestInput, approvals: readonly ActorInput[], signing: MessageSigner): string | undefined {
  if (input.breakGlass || input.autoApprovedBy) return undefined; // signed as part of the input
  const approvers = new Set<string>();
  for (const approval of approvals) {
    if (!signing.verifyMessage(updatePurpose(approveUpdate.name), input.id, approval)) {
      return `the approval by ${String(approval?.actor)} is not signed by the request service`;
    }
    const mayApprove = input.approvers.includes(approval.actor) && (approval.actor !== input.requester || input.allowSelfApproval);
    if (mayApprove) approvers.add(approval.actor);
  }
  if (approvers.size < input.approvalsRequired) {
    return `${approvers.size} of the ${input.approvalsRequired} approval(s) it needs are signed by its approvers`;
  }
  return undefined;
}

function describe(grant: { provider: string; resource: string; kind: string; target: string; scope: Record<string, string> }): string {
  const scope = Object.entries(grant.scope ?? {}).map(([key, value]) => `${key}=${value}`);
  return [`${grant.provider}/${grant.resource}`, grant.kind, grant.target, ...scope].join(' ');
}
