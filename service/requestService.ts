/**
 * The one request service. Every channel (the HTTP API today; Slack, Teams and the web page as thin
 * adapters over this same class) validates, checks policy, starts and messages workflows, and reads
 * requests through here, so all of them obey the same rules and give the same errors.
 */
import { Client, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import { monotonicFactory } from 'ulid';
import { z } from 'zod';
import {
  REJECTION,
  TASK_QUEUE,
  WORKFLOW_TYPE,
  approveUpdate,
  cancelUpdate,
  denyUpdate,
  extendUpdate,
  relinquishUpdate,
  reviewUpdate,
  revokeUpdate,
  statusQuery,
  type ActorInput,
} from '../workflows/messages';
import { FINAL_STATUSES, initialView, REQUEST_STATUSES, type AccessRequestInput, type RequestStatus, type RequestView } from '../workflows/types';
import { AppError } from './errors';
import type { LivePolicy } from './livePolicy';
import { SIGNED_MESSAGE, updatePurpose, type MessageSigner } from './messageSigning';
import { catalogFor, decideExtension, decideRequest, findLevel, isAdmin, type Caller, type CatalogEntry, type Policy } from './policy';

/** What the service reads from the store's request projection. */
export interface RequestReader {
  get(id: string): Promise<RequestView | undefined>;
  list(filter: { status?: RequestStatus; requester?: string; approver?: string; limit?: number }): Promise<RequestView[]>;
}

export interface RequestServiceOptions {
  client: Client;
  /** The policy in force now (reloaded when the config file changes). */
  policy: Pick<LivePolicy, 'current'>;
  requests: RequestReader;
  /** Signs each workflow input and update: the worker refuses to grant on anything it did not sign. */
  signing: MessageSigner;
  taskQueue?: string;
}

export const REQUEST_ID_PATTERN = /^req_[0-9A-HJKMNP-TV-Z]{26}$/;

const createRequestBody = z
  .object({
    provider: z.string({ error: 'provider is required (e.g. "aws")' }).min(1, 'provider is required (e.g. "aws")'),
    /** Either kind + target (`role AdminRole`, the CLI's words)... */
    kind: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    /** ...or a catalog position; `resource` also picks among resources offering the same kind + target. */
    resource: z.string().min(1).optional(),
    level: z.string().min(1).optional(),
    namespace: z.string().min(1).optional(),
    reason: z.string().max(2000, 'reason is longer than 2000 characters').default(''),
    duration: z.string().optional(),
    /** Provision no earlier than this (ISO-8601 with a time zone). */
    startAt: z.iso.datetime({ offset: true, error: 'startAt must be an ISO-8601 time, e.g. 2026-12-01T09:00:00Z' }).optional(),
    breakGlass: z.boolean().optional(),
  })
  .strict()
  .refine((body) => body.level !== undefined || (body.kind !== undefined && body.target !== undefined), {
    message: 'name what you need: kind and target (e.g. "role", "AdminRole"), or resource and level',
  });

const extendBody = z
  .object({
    duration: z.string({ error: 'duration is required (e.g. "1h")' }),
    comment: z.string().optional(),
    reason: z.string().optional(),
  })
  .strict();

/** How far ahead a scheduled start may be. */
const MAX_SCHEDULE_AHEAD_MS = 30 * 86_400_000;

export const listRequestsFilter = z.object({
  status: z.enum(REQUEST_STATUSES).optional(),
  mine: z.boolean().optional(),
  pendingApproval: z.boolean().optional(),
});
export type ListRequestsFilter = z.infer<typeof listRequestsFilter>;

export class RequestService {
  private readonly client: Client;
  private readonly livePolicy: Pick<LivePolicy, 'current'>;
  private readonly requests: RequestReader;
  private readonly signing: MessageSigner;
  private readonly taskQueue: string;
  /** Monotonic, so ids made in the same millisecond still sort in the order they were made. */
  private readonly newUlid = monotonicFactory();

  constructor(options: RequestServiceOptions) {
    this.client = options.client;
    this.livePolicy = options.policy;
    this.requests = options.requests;
    this.signing = options.signing;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
  }

  private get policy(): Policy {
    return this.livePolicy.current();
  }

  /** Admin by token or by the policy's `admins` list. */
  isAdmin(caller: Caller): boolean {
    return isAdmin(this.policy, caller);
  }

  resources(caller: Caller): CatalogEntry[] {
    return catalogFor(this.policy, caller.email);
  }

  async create(caller: Caller, body: unknown): Promise<RequestView> {
    const parsed = createRequestBody.safeParse(body ?? {});
    if (!parsed.success) throw new AppError('bad_request', parsed.error.issues.map(describeIssue).join('; '));
    const { provider, kind, target, resource, level: levelName, namespace, reason, duration, startAt, breakGlass } = parsed.data;
    const policy = this.policy; // one policy for the whole decision, even if the file changes meanwhile
    const now = new Date();
    const level = findLevel(policy, caller.email, { provider, kind, target, resource, level: levelName, namespace });
    const decision = decideRequest(policy, caller, level, { duration, reason, breakGlass }, now);
    if (startAt !== undefined && Date.parse(startAt) > now.getTime() + MAX_SCHEDULE_AHEAD_MS) {
      throw new AppError('bad_request', 'startAt: schedule at most 30 days ahead');
    }
    const input: AccessRequestInput = {
      id: `req_${this.newUlid()}`,
      requester: caller.email,
      provider: level.provider,
      resource: level.resource,
      level: level.level,
      kind: level.kind,
      target: level.target,
      scope: level.scope,
      reason,
      duration: decision.duration,
      durationSeconds: decision.durationSeconds,
      approvers: decision.approvers,
      approvalsRequired: decision.approvalsRequired,
      allowSelfApproval: decision.allowSelfApproval,
      autoApprovedBy: decision.autoApprovedBy,
      breakGlass: decision.breakGlass,
      startAt: startAt === undefined ? undefined : new Date(startAt).toISOString(),
      extension: decision.extension,
      policyVersion: policy.version,
      approvalTimeoutSeconds: decision.approvalTimeoutSeconds,
      verifyTimeoutSeconds: Math.round(policy.config.verifyTimeout / 1000),
      createdAt: now.toISOString(),
    };
    await this.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: this.taskQueue,
      workflowId: input.id,
      args: [this.signing.signMessage(SIGNED_MESSAGE.request, input.id, input)],
    });
    return initialView(input);
  }

  /** More time on an active grant, decided by today's policy for its level (auto-approved or not). */
  async extend(caller: Caller, id: string, body: unknown): Promise<RequestView> {
    const parsed = extendBody.safeParse(body ?? {});
    if (!parsed.success) throw new AppError('bad_request', parsed.error.issues.map(describeIssue).join('; '));
    const current = await this.read(id);
    if (!current) throw notFound(id);
    if (current.requester !== caller.email) throw new AppError('forbidden', 'Only the requester can extend this access');
    const policy = this.policy;
    const level = policy.levels.find((candidate) => candidate.provider === current.provider && candidate.resource === current.resource && candidate.level === current.level);
    const extension = decideExtension(policy, caller.email, level, parsed.data.duration, new Date(), { breakGlass: current.breakGlass });
    return this.sendUpdate(id, extendUpdate, {
      actor: caller.email,
      comment: parsed.data.comment ?? parsed.data.reason,
      duration: extension.duration,
      durationSeconds: extension.durationSeconds,
      autoApprovedBy: extension.autoApprovedBy,
    });
  }

  async get(caller: Caller, id: string): Promise<RequestView> {
    const view = await this.read(id);
    if (!view || !this.canSee(caller, view)) throw notFound(id);
    return view;
  }

  async list(caller: Caller, filter: ListRequestsFilter): Promise<RequestView[]> {
    const admin = isAdmin(this.policy, caller);
    if (filter.pendingApproval) {
      // What the caller can act on now: pending requests and extensions they have not approved yet
      // (not their own), and break-glass access waiting for its review.
      const approvable = await this.requests.list({ approver: caller.email });
      return approvable.filter((view) => (filter.status === undefined || view.status === filter.status) && awaitsDecisionBy(view, caller.email));
    }
    if (filter.mine || !admin) {
      const own = await this.requests.list({ status: filter.status, requester: caller.email });
      if (filter.mine || admin) return own;
      // Non-admins also see the requests they can approve.
      const approvable = await this.requests.list({ status: filter.status, approver: caller.email });
      const byId = new Map([...own, ...approvable].map((view) => [view.id, view]));
      return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    }
    return this.requests.list({ status: filter.status });
  }

  /** `subject`: what the approver saw, REQUEST_SUBJECT or a pending extension's id (absent = the request). */
  approve(caller: Caller, id: string, comment?: string, subject?: string): Promise<RequestView> {
    return this.sendUpdate(id, approveUpdate, { actor: caller.email, comment, subject });
  }

  deny(caller: Caller, id: string, comment?: string, subject?: string): Promise<RequestView> {
    return this.sendUpdate(id, denyUpdate, { actor: caller.email, comment, subject });
  }

  relinquish(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(id, relinquishUpdate, { actor: caller.email, comment });
  }

  cancel(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(id, cancelUpdate, { actor: caller.email, comment });
  }

  /** An approver's after-the-fact review of break-glass access (allowed after it ended, too). */
  review(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(id, reviewUpdate, { actor: caller.email, comment }, { evenIfEnded: true });
  }

  async revoke(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    if (!isAdmin(this.policy, caller)) {
      if (!(await this.read(id))) throw notFound(id); // an unknown id is still a 404, not a 403
      throw new AppError('forbidden', 'Only an admin can revoke access');
    }
    return this.sendUpdate(id, revokeUpdate, { actor: caller.email, comment });
  }

  private canSee(caller: Caller, view: RequestView): boolean {
    return view.requester === caller.email || view.approvers.includes(caller.email) || isAdmin(this.policy, caller);
  }

  /** The store's projection, or (in the moment before the workflow's first record lands) the workflow itself. */
  private async read(id: string): Promise<RequestView | undefined> {
    if (!REQUEST_ID_PATTERN.test(id)) return undefined;
    const stored = await this.requests.get(id);
    if (stored) return stored;
    try {
      return await this.handle(id).query(statusQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      // Busy workers can leave a query unanswered; the request exists and will be readable soon.
      throw new AppError('unavailable', `${id} was just made and its state cannot be read yet: try again in a moment`);
    }
  }

  /** Whether the request's workflow exists and runs, asked of the server alone (no worker needed). */
  private async isRunning(id: string): Promise<boolean> {
    try {
      return (await this.handle(id).describe()).status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  private handle(id: string): WorkflowHandle {
    return this.client.workflow.getHandle(id);
  }

  /**
   * Sends an update to the request's workflow. Anyone who knows the id may try: the workflow's
   * validators say who may do what (403) and when (409), in one place for every channel.
   */
  private async sendUpdate<Input extends ActorInput>(
    id: string,
    update: UpdateDefinition<RequestView, [Input]>,
    input: Input,
    options: { evenIfEnded?: boolean } = {},
  ): Promise<RequestView> {
    if (!REQUEST_ID_PATTERN.test(id)) throw notFound(id);
    // The store answers for nearly every request; one made a moment ago may not be there yet, and
    // then the server (not a possibly busy worker) says whether it exists.
    const stored = await this.requests.get(id);
    if (stored && FINAL_STATUSES.includes(stored.status) && !options.evenIfEnded) throw alreadyEnded(stored);
    if (!stored && !(await this.isRunning(id))) throw notFound(id);
    try {
      // The signature covers the request, the update's name and every field of the payload.
      const signed = this.signing.signMessage(updatePurpose(update.name), id, { ...input, sentAt: new Date().toISOString() });
      return await this.handle(id).executeUpdate(update, { args: [signed] });
    } catch (error) {
      throw await this.explainUpdateFailure(id, error);
    }
  }

  private async explainUpdateFailure(id: string, error: unknown): Promise<Error> {
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
      const rejection = error.cause;
      const forbidden: string[] = [REJECTION.selfApproval, REJECTION.notApprover, REJECTION.notRequester, REJECTION.unsigned];
      return new AppError(forbidden.includes(rejection.type ?? '') ? 'forbidden' : 'conflict', rejection.message);
    }
    if (error instanceof WorkflowNotFoundError) {
      // The workflow closed between our read and the update.
      const stored = await this.requests.get(id);
      return stored ? alreadyEnded(stored) : new AppError('conflict', 'The request has already ended');
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Whether `email` has a decision to make on this request now. */
function awaitsDecisionBy(view: RequestView, email: string): boolean {
  if (view.requester === email) return false;
  if (view.status === 'pending') return !view.approvals.some((approval) => approval.by === email);
  if (view.status === 'active' && view.pendingExtension) return !view.pendingExtension.approvals.some((approval) => approval.by === email);
  return view.breakGlass === true && view.review === undefined;
}

/** Same words as the workflow's own refusal: "... the request is already denied by bob@example.com". */
function alreadyEnded(view: RequestView): AppError {
  const decidedBy = view.decision ? ` by ${view.decision.by}` : '';
  return new AppError('conflict', `The request is already ${view.status.replace('_', ' ')}${decidedBy}`);
}

function notFound(id: string): AppError {
  return new AppError('not_found', `No request ${id}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  const field = issue.path.join('.');
  return field && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
}
