/**
 * The accessRequest workflow's messages, declared once. The request service (and through it the
 * API and the Slack app) imports these objects; nobody sends a message by a bare string.
 *
 * Every message that changes the request is an Update, not a Signal: the caller needs an answer
 * ("you cannot approve your own request", "already denied") and gets the request view back.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RequestView } from '../shared/request';

export const TASK_QUEUE = 'p0-access-requests';
export const WORKFLOW_TYPE = 'accessRequest';
export const RECONCILE_WORKFLOW_TYPE = 'reconcile';

/** Who is acting, and what they said. `actor` is an email address vouched for by the caller's auth. */
export interface ActorInput {
  actor: string;
  comment?: string;
  /**
   * The request service's signature over the request id, the update's name and every other field
   * (service/messageSigning.ts). Updates without one are refused; the worker's activities verify
   * it before anything is granted on the strength of the message.
   */
  signature?: string;
  /**
   * When the request service sent it (ISO-8601): covered by the signature, it makes every message
   * distinct, so a copy of an old one is recognised as a replay.
   */
  sentAt?: string;
}

/** What an approve or deny decides: the request itself, or one pending extension by its id. */
export const REQUEST_SUBJECT = 'request';

/**
 * Approve and deny name what the approver saw (`REQUEST_SUBJECT` or the extension's id), so a button
 * rendered for the request can never decide an extension asked for later. Absent = the request.
 */
export interface DecisionInput extends ActorInput {
  subject?: string;
}

/** Approves the request while pending, or its pending extension while active. */
export const approveUpdate = defineUpdate<RequestView, [DecisionInput]>('approve');
/** Denies the request while pending, or its pending extension while active. */
export const denyUpdate = defineUpdate<RequestView, [DecisionInput]>('deny');
/** The requester ends their own active access early. */
export const relinquishUpdate = defineUpdate<RequestView, [ActorInput]>('relinquish');
/** The requester withdraws a request that is still pending. */
export const cancelUpdate = defineUpdate<RequestView, [ActorInput]>('cancel');
/** An admin, or a break-glass request's approver, ends access; the request service checks who may. */
export const revokeUpdate = defineUpdate<RequestView, [ActorInput]>('revoke');

/** The requester asks for more time on an active grant; the request service has applied the policy. */
export interface ExtendInput extends ActorInput {
  duration: string;
  durationSeconds: number;
  /** Set when an auto-approval rule covers the extension: it applies at once. */
  autoApprovedBy?: string;
}
export const extendUpdate = defineUpdate<RequestView, [ExtendInput]>('extend');
/** An approver's after-the-fact review of a break-glass request. */
export const reviewUpdate = defineUpdate<RequestView, [ActorInput]>('review');

export const statusQuery = defineQuery<RequestView>('status');

/**
 * From the reconciler: the provider no longer reports this active request's grant (someone removed
 * it by hand, a provider-side rollback). A signal, not an update: nobody waits for an answer, and
 * the workflow grants again only while the request is still active.
 */
export const reprovisionSignal = defineSignal<[{ by: string }]>('reprovision');

/**
 * Why an update was refused. The workflow's validators throw ApplicationFailures of these types;
 * the request service turns them into 403 / 409 answers.
 */
export const REJECTION = {
  selfApproval: 'SelfApproval',
  notApprover: 'NotApprover',
  notRequester: 'NotRequester',
  alreadyApproved: 'AlreadyApproved',
  wrongState: 'WrongState',
  notAllowed: 'NotAllowed',
  /** An approve or deny for something other than what now waits for a decision (an old button). */
  staleDecision: 'StaleDecision',
  /** Not signed by the request service: sent to Temporal directly (the CLI, the Web UI, a script). */
  unsigned: 'Unsigned',
} as const;
export type RejectionType = (typeof REJECTION)[keyof typeof REJECTION];
