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
import type { P0Config } from '../config/schema';
import {
  REJECTION,
  TASK_QUEUE,
  WORKFLOW_TYPE,
  approveUpdate,
  cancelUpdate,
  denyUpdate,
  relinquishUpdate,
  revokeUpdate,
  statusQuery,
  type ActorInput,
} from '../workflows/messages';
import { FINAL_STATUSES, initialView, REQUEST_STATUSES, type AccessRequestInput, type RequestStatus, type RequestView } from '../workflows/types';
import { AppError } from './errors';
import { approversFor, catalogFor, findResource, isAdmin, resolveDuration, type Caller, type CatalogEntry } from './policy';

/** What the service reads from the store's request projection. */
export interface RequestReader {
  get(id: string): Promise<RequestView | undefined>;
  list(filter: { status?: RequestStatus; requester?: string; approver?: string; limit?: number }): Promise<RequestView[]>;
}

export interface RequestServiceOptions {
  client: Client;
  config: P0Config;
  requests: RequestReader;
  taskQueue?: string;
}

export const REQUEST_ID_PATTERN = /^req_[0-9A-HJKMNP-TV-Z]{26}$/;

const createRequestBody = z
  .object({
    provider: z.string({ error: 'provider is required (e.g. "aws")' }).min(1, 'provider is required (e.g. "aws")'),
    kind: z.string({ error: 'kind is required (e.g. "role")' }).min(1, 'kind is required (e.g. "role")'),
    target: z.string({ error: 'target is required (e.g. "AdminRole")' }).min(1, 'target is required (e.g. "AdminRole")'),
    reason: z.string().max(2000, 'reason is longer than 2000 characters').default(''),
    duration: z.string().optional(),
  })
  .strict();

export const listRequestsFilter = z.object({
  status: z.enum(REQUEST_STATUSES).optional(),
  mine: z.boolean().optional(),
  pendingApproval: z.boolean().optional(),
});
export type ListRequestsFilter = z.infer<typeof listRequestsFilter>;

export class RequestService {
  private readonly client: Client;
  private readonly config: P0Config;
  private readonly requests: RequestReader;
  private readonly taskQueue: string;
  /** Monotonic, so ids made in the same millisecond still sort in the order they were made. */
  private readonly newUlid = monotonicFactory();

  constructor(options: RequestServiceOptions) {
    this.client = options.client;
    this.config = options.config;
    this.requests = options.requests;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
  }

  resources(_caller: Caller): CatalogEntry[] {
    return catalogFor(this.config);
  }

  async create(caller: Caller, body: unknown): Promise<RequestView> {
    const parsed = createRequestBody.safeParse(body ?? {});
    if (!parsed.success) throw new AppError('bad_request', parsed.error.issues.map(describeIssue).join('; '));
    const { provider, kind, target, reason, duration: requestedDuration } = parsed.data;
    const resource = findResource(this.config, { provider, kind, target });
    const { duration, seconds } = resolveDuration(resource, requestedDuration);
    const input: AccessRequestInput = {
      id: `req_${this.newUlid()}`,
      requester: caller.email,
      provider,
      kind,
      target,
      reason,
      duration,
      durationSeconds: seconds,
      approvers: approversFor(this.config, resource),
      approvalsRequired: resource.approvals,
      approvalTimeoutSeconds: Math.round(this.config.approvalTimeout / 1000),
      verifyTimeoutSeconds: Math.round(this.config.verifyTimeout / 1000),
      createdAt: new Date().toISOString(),
    };
    await this.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: this.taskQueue,
      workflowId: input.id,
      args: [input],
    });
    return initialView(input);
  }

  async get(caller: Caller, id: string): Promise<RequestView> {
    const view = await this.read(id);
    if (!view || !this.canSee(caller, view)) throw notFound(id);
    return view;
  }

  async list(caller: Caller, filter: ListRequestsFilter): Promise<RequestView[]> {
    const admin = isAdmin(this.config, caller);
    if (filter.pendingApproval) {
      // Only what the caller can act on now: not their own requests, not ones they already approved.
      if (filter.status && filter.status !== 'pending') return [];
      const pending = await this.requests.list({ status: 'pending', approver: caller.email });
      return pending.filter(
        (view) => view.requester !== caller.email && !view.approvals.some((approval) => approval.by === caller.email),
      );
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

  approve(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, approveUpdate, comment);
  }

  deny(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, denyUpdate, comment);
  }

  relinquish(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, relinquishUpdate, comment);
  }

  cancel(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, cancelUpdate, comment);
  }

  async revoke(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    if (!isAdmin(this.config, caller)) {
      if (!(await this.read(id))) throw notFound(id); // an unknown id is still a 404, not a 403
      throw new AppError('forbidden', 'Only an admin can revoke access');
    }
    return this.sendUpdate(caller, id, revokeUpdate, comment);
  }

  private canSee(caller: Caller, view: RequestView): boolean {
    return view.requester === caller.email || view.approvers.includes(caller.email) || isAdmin(this.config, caller);
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
  private async sendUpdate(
    caller: Caller,
    id: string,
    update: UpdateDefinition<RequestView, [ActorInput]>,
    comment?: string,
  ): Promise<RequestView> {
    const current = await this.read(id);
    if (!current) throw notFound(id);
    if (FINAL_STATUSES.includes(current.status)) throw alreadyEnded(current);
    try {
      return await this.handle(id).executeUpdate(update, { args: [{ actor: caller.email, comment }] });
    } catch (error) {
      throw await this.explainUpdateFailure(id, error);
    }
  }

  private async explainUpdateFailure(id: string, error: unknown): Promise<Error> {
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
      const rejection = error.cause;
      const forbidden: string[] = [REJECTION.selfApproval, REJECTION.notApprover, REJECTION.notRequester];
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
