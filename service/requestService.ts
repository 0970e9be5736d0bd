/**
 * The one request service. Every channel (the HTTP API, which the p0 CLI speaks, and the Slack app;
 * Teams or a web page would be one more thin adapter over this same class) validates, checks policy,
 * starts and messages workflows, and reads requests through here, so all of them obey the same rules
 * and give the same errors.
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
import { BREAK_GLASS_REVIEW_WINDOW_DAYS, grantedSeconds, initialView, type AccessRequestInput } from '../workflows/types';
import type { CatalogEntry } from '../shared/catalog';
import type { AuditEvent } from '../shared/events';
import { FINAL_STATUSES, REQUEST_STATUSES, type RequestStatus, type RequestView } from '../shared/request';
import { AppError } from './errors';
import { InvalidEmailError, normalizeEmail } from './identity';
import type { LivePolicy } from './livePolicy';
import { errorForNonAdmins } from './providerErrors';
import { SIGNED_MESSAGE, updatePurpose, type MessageSigner } from './messageSigning';
import {
  catalogFor,
  decideExtension,
  decideRequest,
  findLevel,
  isAdmin,
  type Caller,
  type Policy,
  type RequesterStanding,
} from './policy';

/** What the service reads from the store's request projection and audit trail. */
export interface RequestReader {
  get(id: string): Promise<RequestView | undefined>;
  list(filter: { status?: RequestStatus; requester?: string; approver?: string; createdFrom?: string; createdBefore?: string; limit?: number }): Promise<RequestView[]>;
  /** One request's audit trail, in sequence order. */
  events(requestId: string): Promise<AuditEvent[]>;
  /** Several requests' audit trails. */
  eventsOf(requestIds: readonly string[]): Promise<AuditEvent[]>;
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

/**
 * The body of `POST /v1/requests`. The OpenAPI document is derived from it (api/openapi.ts), so its
 * `meta` (descriptions, examples) is what API clients read.
 */
export const createRequestBody = z
  .object({
    provider: z.string({ error: 'provider is required (e.g. "aws")' }).min(1, 'provider is required (e.g. "aws")').meta({ example: 'aws' }),
    /** Either kind + target (`role AdminRole`, the CLI's words)... */
    kind: z.string().min(1).optional().meta({ example: 'role' }),
    target: z.string().min(1).optional().meta({ example: 'AdminRole' }),
    /** ...or a catalog position; `resource` also picks among resources offering the same kind + target. */
    resource: z.string().min(1).optional().meta({ example: 'prod' }),
    level: z.string().min(1).optional().meta({ example: 'admin' }),
    namespace: z.string().min(1).optional().meta({ example: 'payments', description: 'Kubernetes: picks the level granted in this namespace' }),
    reason: z.string().max(2000, 'reason is longer than 2000 characters').default('').meta({ example: 'deploy hotfix INC-42' }),
    duration: z.string().optional().meta({ example: '1h', description: 'e.g. 90s, 15m, 2h, 1d; default from the policy' }),
    /** Provision no earlier than this (ISO-8601 with a time zone). */
    startAt: z.iso
      .datetime({ offset: true, error: 'startAt must be an ISO-8601 time, e.g. 2026-12-01T09:00:00Z' })
      .optional()
      .meta({ description: 'Scheduled start (at most 30 days ahead)' }),
    breakGlass: z.boolean().optional().meta({ description: 'Emergency access where the level allows it' }),
  })
  .strict()
  .refine((body) => body.level !== undefined || (body.kind !== undefined && body.target !== undefined), {
    message: 'name what you need: kind and target (e.g. "role", "AdminRole"), or resource and level',
  })
  .meta({ description: 'Name the access by kind + target (the CLI words), or by resource + level (the catalog).' });

/** The body of `POST /v1/requests/{id}/extend` (the OpenAPI document is derived from it). */
export const extendBody = z
  .object({
    duration: z.string({ error: 'duration is required (e.g. "1h")' }).meta({ example: '1h' }),
    comment: z.string().optional(),
    reason: z.string().optional(),
  })
  .strict();

/** How far ahead a scheduled start may be. */
const MAX_SCHEDULE_AHEAD_MS = 30 * 86_400_000;
/** Past this after its access ended, a break-glass request can no longer be reviewed (its workflow has closed). */
const BREAK_GLASS_REVIEW_WINDOW_MS = BREAK_GLASS_REVIEW_WINDOW_DAYS * 86_400_000;
/**
 * How long this process remembers a break-glass request it started: until the worker has recorded
 * it in the store (normally well under a second), the store cannot count it.
 */
const RECENT_BREAK_GLASS_MEMORY_MS = 10 * 60_000;

/** A day (`2026-05-01`, the whole UTC day) or an instant (ISO-8601 with a time zone). */
const dayOrInstant = z.union([z.iso.date(), z.iso.datetime({ offset: true })], { error: 'must be a date (2026-05-01) or an ISO-8601 time with a time zone' });

export const listRequestsFilter = z.object({
  status: z.enum(REQUEST_STATUSES, { error: `must be one of ${REQUEST_STATUSES.join(', ')}` }).optional(),
  mine: z.boolean().optional(),
  pendingApproval: z.boolean().optional(),
  /** Only requests this person made. */
  requester: z.string().max(320).optional(),
  /** Only requests for this resource: `prod`, `aws/prod` or `aws/prod/admin`. */
  resource: z.string().max(300).optional(),
  /** Made on or after this day or time. */
  from: dayOrInstant.optional(),
  /** Made on or before this day (the whole day), or before this time. */
  to: dayOrInstant.optional(),
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
  /** Break-glass requests this process started, by requester (see RECENT_BREAK_GLASS_MEMORY_MS). */
  private readonly recentBreakGlass = new Map<string, Array<{ id: string; startedAtMs: number }>>();
  /** One break-glass decision at a time per requester, so two at once cannot both pass the limit. */
  private readonly breakGlassTurns = new Map<string, Promise<unknown>>();

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
    if (parsed.data.breakGlass !== true) return this.start(caller, parsed.data, { unreviewedBreakGlass: 0 });
    return this.inBreakGlassTurn(caller.email, async () => this.start(caller, parsed.data, { unreviewedBreakGlass: await this.unreviewedBreakGlass(caller.email) }));
  }

  private async start(caller: Caller, body: z.infer<typeof createRequestBody>, standing: RequesterStanding): Promise<RequestView> {
    const { provider, kind, target, resource, level: levelName, namespace, reason, duration, startAt, breakGlass } = body;
    const policy = this.policy; // one policy for the whole decision, even if the file changes meanwhile
    const now = new Date();
    const level = findLevel(policy, caller.email, { provider, kind, target, resource, level: levelName, namespace });
    const startAtDate = startAt === undefined ? undefined : new Date(startAt);
    const decision = decideRequest(policy, caller, level, { duration, reason, breakGlass, startAt: startAtDate }, now, standing);
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
      maxLifetimeSeconds: decision.maxLifetimeSeconds,
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
    if (input.breakGlass) this.rememberBreakGlass(input.requester, input.id, now.getTime());
    return initialView(input);
  }

  /**
   * The requester's break-glass requests no approver has reviewed yet: from the store, plus those
   * this process started that the store does not show yet. One still reviewable counts whatever
   * its state (active, ended); past the review window its workflow has closed and it no longer can.
   */
  private async unreviewedBreakGlass(requester: string): Promise<number> {
    const own = await this.requests.list({ requester });
    const reviewableSinceMs = Date.now() - BREAK_GLASS_REVIEW_WINDOW_MS;
    const unreviewed = own.filter(
      (view) => view.breakGlass === true && view.review === undefined && (view.endedAt === undefined || Date.parse(view.endedAt) > reviewableSinceMs),
    );
    const stored = new Set(own.map((view) => view.id));
    const notStoredYet = (this.recentBreakGlass.get(requester) ?? []).filter((recent) => !stored.has(recent.id));
    return unreviewed.length + notStoredYet.length;
  }

  private rememberBreakGlass(requester: string, id: string, startedAtMs: number): void {
    const keptSinceMs = startedAtMs - RECENT_BREAK_GLASS_MEMORY_MS;
    const recent = (this.recentBreakGlass.get(requester) ?? []).filter((entry) => entry.startedAtMs > keptSinceMs);
    this.recentBreakGlass.set(requester, [...recent, { id, startedAtMs }]);
  }

  /** Runs `decide` after every earlier break-glass decision of this requester in this process. */
  private async inBreakGlassTurn<T>(requester: string, decide: () => Promise<T>): Promise<T> {
    const previous = this.breakGlassTurns.get(requester) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(decide);
    this.breakGlassTurns.set(requester, turn);
    try {
      return await turn;
    } finally {
      if (this.breakGlassTurns.get(requester) === turn) this.breakGlassTurns.delete(requester);
    }
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
    const extension = decideExtension(policy, caller.email, level, parsed.data.duration, new Date(), {
      breakGlass: current.breakGlass,
      grantedSeconds: grantedSeconds(current),
    });
    return this.sendUpdate(caller, id, extendUpdate, {
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
    return this.shownTo(caller, view);
  }

  async list(caller: Caller, filter: ListRequestsFilter): Promise<RequestView[]> {
    const bounds = createdBounds(filter);
    const requester = filter.requester === undefined ? undefined : normalizedFilterEmail(filter.requester);
    const matches = (view: RequestView) =>
      (requester === undefined || view.requester === requester) &&
      (filter.resource === undefined || resourceMatches(view, filter.resource)) &&
      (bounds.createdFrom === undefined || view.createdAt >= bounds.createdFrom) &&
      (bounds.createdBefore === undefined || view.createdAt < bounds.createdBefore);
    return (await this.listViews(caller, filter, { requester, ...bounds })).filter(matches).map((view) => this.shownTo(caller, view));
  }

  /**
   * Every request the filter selects and each one's audit trail (admins only): the Audit page and
   * its CSV export. Events newest first.
   */
  async auditTrail(caller: Caller, filter: ListRequestsFilter): Promise<{ requests: RequestView[]; events: AuditEvent[] }> {
    if (!isAdmin(this.policy, caller)) throw new AppError('forbidden', 'Only an admin may read the audit trail of every request');
    const requests = await this.list(caller, filter);
    const events = await this.requests.eventsOf(requests.map((view) => view.id));
    events.sort((a, b) => b.at.localeCompare(a.at) || a.requestId.localeCompare(b.requestId) || b.seq - a.seq);
    return { requests, events };
  }

  /** One request's audit trail, for whoever may see the request. */
  async events(caller: Caller, id: string): Promise<AuditEvent[]> {
    const view = await this.read(id);
    if (!view || !this.canSee(caller, view)) throw notFound(id);
    return this.requests.events(id);
  }

  /** The view as `caller` may see it, or undefined when they may not see this request at all (for live feeds). */
  visibleTo(caller: Caller, view: RequestView): RequestView | undefined {
    return this.canSee(caller, view) ? this.shownTo(caller, view) : undefined;
  }

  /**
   * @param pushDown what the store can filter on itself (the caller's own filters, already
   *   checked); list() still applies every filter afterwards, whatever the store did.
   */
  private async listViews(caller: Caller, filter: ListRequestsFilter, pushDown: { requester?: string; createdFrom?: string; createdBefore?: string } = {}): Promise<RequestView[]> {
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
    return this.requests.list({ status: filter.status, ...pushDown });
  }

  /** `subject`: what the approver saw, REQUEST_SUBJECT or a pending extension's id (absent = the request). */
  approve(caller: Caller, id: string, comment?: string, subject?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, approveUpdate, { actor: caller.email, comment, subject });
  }

  deny(caller: Caller, id: string, comment?: string, subject?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, denyUpdate, { actor: caller.email, comment, subject });
  }

  relinquish(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, relinquishUpdate, { actor: caller.email, comment });
  }

  cancel(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, cancelUpdate, { actor: caller.email, comment });
  }

  /** An approver's after-the-fact review of break-glass access (allowed after it ended, too). */
  review(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    return this.sendUpdate(caller, id, reviewUpdate, { actor: caller.email, comment }, { evenIfEnded: true });
  }

  /** Admins revoke anything; a break-glass request's approvers may revoke it too (they need not wait for an admin). */
  async revoke(caller: Caller, id: string, comment?: string): Promise<RequestView> {
    if (!isAdmin(this.policy, caller)) {
      const view = await this.read(id);
      if (!view) throw notFound(id); // an unknown id is still a 404, not a 403
      if (!(view.breakGlass === true && view.approvers.includes(caller.email))) {
        throw new AppError('forbidden', 'Only an admin can revoke this access (an approver can revoke break-glass access)');
      }
    }
    return this.sendUpdate(caller, id, revokeUpdate, { actor: caller.email, comment });
  }

  /** The view as `caller` may see it: a provider's error text whole for admins, without ARNs and account ids for others. */
  private shownTo(caller: Caller, view: RequestView): RequestView {
    if (view.error === undefined || isAdmin(this.policy, caller)) return view;
    return { ...view, error: errorForNonAdmins(view.error) };
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
    caller: Caller,
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
      return this.shownTo(caller, await this.handle(id).executeUpdate(update, { args: [signed] }));
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

/** `from` and `to` as the store compares them: ISO-8601 instants in UTC, `to` a day's end when it names a day. */
function createdBounds(filter: ListRequestsFilter): { createdFrom?: string; createdBefore?: string } {
  const bounds: { createdFrom?: string; createdBefore?: string } = {};
  if (filter.from !== undefined) bounds.createdFrom = new Date(filter.from).toISOString();
  if (filter.to !== undefined) {
    const to = new Date(filter.to);
    bounds.createdBefore = new Date(/^\d{4}-\d{2}-\d{2}$/.test(filter.to) ? to.getTime() + 86_400_000 : to.getTime()).toISOString();
  }
  return bounds;
}

function normalizedFilterEmail(text: string): string {
  try {
    return normalizeEmail(text);
  } catch (error) {
    if (error instanceof InvalidEmailError) throw new AppError('bad_request', `requester: ${error.message}`);
    throw error;
  }
}

/** `prod`, `aws/prod` and `aws/prod/admin` all name the request's resource (the last, its level too). */
function resourceMatches(view: RequestView, wanted: string): boolean {
  return wanted === view.resource || wanted === `${view.provider}/${view.resource}` || wanted === `${view.provider}/${view.resource}/${view.level}`;
}

/** A zod refusal of the caller's input, as the API's 400: every problem, each naming its field. */
export function invalidInput(error: z.ZodError): AppError {
  return new AppError('bad_request', error.issues.map(describeIssue).join('; '));
}

function notFound(id: string): AppError {
  return new AppError('not_found', `No request ${id}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  const field = issue.path.join('.');
  return field && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
}
