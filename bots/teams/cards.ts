/**
 * The Teams bot's Adaptive Cards (schema 1.4, `Action.Execute`), as pure functions: data in, card
 * JSON out. The request form (`@P0 request`), and the card that follows a request (the requester's,
 * the approvers'), rendered for one viewer: each person gets only the actions they may take, through
 * the card's `refresh` (Teams asks the bot for the card of whoever looks at it, among `userIds`).
 */
import type { CatalogEntry } from '../../shared/catalog';
import { errorForNonAdmins } from '../../service/providerErrors';
import { approvalsWording, chosenEntry, durationChoices, normalizeForm, reasonRule, refusalField, type RequestForm } from '../../shared/requestForm';
import type { RequestView } from '../../shared/request';
import { clockTime, describeAccess, humanDuration, limit, orList, providerLabel, statusLine as sharedStatusLine, type ChatStyle } from '../../shared/requestWords';
import type { AuditEventType } from '../../shared/events';
import type { AdaptiveCard } from './botFramework';

/** The verbs of the cards' Action.Execute actions. */
export const VERB = {
  request: 'request',
  approve: 'approve',
  deny: 'deny',
  cancel: 'cancel',
  relinquish: 'relinquish',
  /** Teams asks for the card of the person looking at it. */
  refresh: 'refresh',
} as const;

/** The ids of the request form's inputs (the card's data carries their values back). */
export const INPUT = {
  resourceType: 'resourceType',
  resource: 'resource',
  level: 'level',
  reason: 'reason',
  duration: 'duration',
  /** The approver's reason for Deny. */
  comment: 'comment',
} as const;

/** Which card follows a request: the requester's, or the approvers'. */
export type CardAudience = 'requester' | 'approvers';

/** Teams shows a card's refresh to at most this many people. */
const REFRESH_USER_IDS_MAX = 60;
const SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
const CHOICES_MAX = 100;

/** How Teams writes the status line: its markdown, escaped; emoji icons. */
export const TEAMS_STYLE: ChatStyle = {
  escape: escapeMarkdown,
  errorText: errorForNonAdmins,
  icons: {
    pending: '⏳',
    approved: '✅',
    breakGlass: '🚨',
    verifying: '🔍',
    provisioning: '⚙️',
    active: '🟢',
    ended: '🏁',
    revoked: '⛔',
    denied: '❌',
    cancelled: '🚫',
    timedOut: '⌛',
    failed: '⚠️',
  },
};

export function statusLine(event: AuditEventType, view: RequestView, timeZone = 'UTC'): string {
  return sharedStatusLine(event, view, TEAMS_STYLE, timeZone);
}

/** Markdown characters in text people typed, escaped (Teams reads card text as markdown). */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\*_~`[\]<>#])/g, '\\$1');
}

function card(body: unknown[], actions: unknown[] = [], extra: Record<string, unknown> = {}): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: '1.4', body, ...(actions.length > 0 ? { actions } : {}), ...extra };
}

function text(value: string, options: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'TextBlock', text: limit(value, 4000), wrap: true, ...options };
}

function warning(message: string): Record<string, unknown> {
  return text(`⚠️ ${escapeMarkdown(message)}`, { color: 'Attention', weight: 'Bolder' });
}

function choiceSet(id: string, label: string, choices: Array<{ title: string; value: string }>, value: string | undefined, placeholder: string): Record<string, unknown> {
  return {
    type: 'Input.ChoiceSet',
    id,
    label,
    style: 'compact',
    placeholder,
    choices: choices.slice(0, CHOICES_MAX),
    ...(value !== undefined && choices.some((choice) => choice.value === value) ? { value } : {}),
  };
}

/** Where a refusal is shown on the form: under one of its inputs. */
export type FormField = 'resourceType' | 'resource' | 'level' | 'reason' | 'duration';

export interface FormError {
  field: FormField;
  message: string;
}

/**
 * The `@P0 request` card: resource type, resource, access level (each among what this person may
 * request, narrowed by the choices made so far), reason and duration (the level's presets), and
 * **Request**. A level's choice is its catalog id (`aws/prod/admin`), so it names one level whatever
 * was chosen above it; the resource type and resource narrow the list when the card is shown again.
 */
export function requestFormCard(catalog: readonly CatalogEntry[], prefill: RequestForm = {}, error?: FormError): AdaptiveCard {
  if (catalog.length === 0) {
    return card([text('Request access', { weight: 'Bolder', size: 'Medium' }), text("Your organization's access policy offers you nothing to request yet. Contact your p0 administrator.")]);
  }
  const form = normalizeForm(catalog, prefill);
  const entry = chosenEntry(catalog, form);
  const offered = catalog.filter((candidate) => (form.provider === undefined || candidate.provider === form.provider) && (form.resource === undefined || candidate.resource === form.resource));
  const providers = [...new Set(catalog.map((candidate) => candidate.provider))];
  const resources = [...new Set(catalog.filter((candidate) => form.provider === undefined || candidate.provider === form.provider).map((candidate) => `${candidate.provider}\n${candidate.resource}`))].map((pair) => pair.split('\n') as [string, string]);
  const durations = entry ? durationChoices(entry, form.duration, CHOICES_MAX) : unionOfDurations(offered);
  const errorUnder = (field: FormField) => (error?.field === field ? [warning(error.message)] : []);

  const body: unknown[] = [
    text('Request access', { weight: 'Bolder', size: 'Medium' }),
    choiceSet(INPUT.resourceType, 'Resource type', providers.map((provider) => ({ title: providerLabel(provider), value: provider })), form.provider, 'AWS, Google Cloud, Kubernetes...'),
    ...errorUnder('resourceType'),
    choiceSet(
      INPUT.resource,
      'Resource',
      resources.map(([provider, resource]) => ({ title: form.provider === undefined && providers.length > 1 ? `${resource} (${providerLabel(provider)})` : resource, value: resource })),
      form.resource,
      'Which account, project or cluster',
    ),
    ...errorUnder('resource'),
    choiceSet(
      INPUT.level,
      'Access level',
      offered.map((candidate) => ({
        title: limit(`${form.resource === undefined ? `${candidate.resource} · ` : ''}${candidate.level}: ${candidate.description ?? `${candidate.kind} ${candidate.target}`}`, 120),
        value: candidate.id,
      })),
      entry?.id,
      'What you need',
    ),
    ...(entry ? [text(`${entry.kind} ${entry.target} · ${approvalsWording(entry.approvalsRequired)}${entry.readOnly ? ' · read-only' : ''}`, { isSubtle: true, spacing: 'None', size: 'Small' })] : []),
    ...errorUnder('level'),
    {
      type: 'Input.Text',
      id: INPUT.reason,
      label: entry?.requireReason ? 'Reason (required)' : 'Reason',
      isMultiline: true,
      maxLength: 2000,
      placeholder: 'Why you need it, e.g. deploy hotfix INC-42',
      ...(form.reason ? { value: form.reason } : {}),
    },
    text(reasonRule(entry), { isSubtle: true, spacing: 'None', size: 'Small' }),
    ...errorUnder('reason'),
    choiceSet(
      INPUT.duration,
      'Duration',
      durations.map((duration) => ({ title: humanDuration(duration), value: duration })),
      durations.includes(form.duration ?? '') ? form.duration : entry?.defaultDuration,
      'How long',
    ),
    ...errorUnder('duration'),
  ];
  return card(body, [{ type: 'Action.Execute', title: 'Request', verb: VERB.request, data: { card: 'requestForm' } }]);
}

/** The durations of every level offered, when none is chosen yet. */
function unionOfDurations(entries: readonly CatalogEntry[]): string[] {
  const all = entries.flatMap((entry) => durationChoices(entry, undefined, CHOICES_MAX));
  return [...new Set(all)].sort((a, b) => durationSeconds(a) - durationSeconds(b)).slice(0, CHOICES_MAX);
}

function durationSeconds(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  return match ? Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'] : Number.MAX_SAFE_INTEGER;
}

/** What the form's inputs said, as the card's data carries them back (untrusted: checked against the catalog). */
export function readFormData(catalog: readonly CatalogEntry[], data: Record<string, unknown>): { form: RequestForm; entry?: CatalogEntry; error?: FormError } {
  const value = (key: string) => {
    const given = data[key];
    return typeof given === 'string' && given.trim() !== '' ? given.trim() : undefined;
  };
  const chosenLevel = catalog.find((candidate) => candidate.id === value(INPUT.level));
  const form: RequestForm = { provider: value(INPUT.resourceType), resource: value(INPUT.resource), reason: value(INPUT.reason), duration: value(INPUT.duration) };
  const narrowed = normalizeForm(catalog, form);
  if (form.provider !== undefined && narrowed.provider === undefined) return { form: narrowed, error: { field: 'resourceType', message: 'Choose a resource type' } };
  if (form.resource !== undefined && narrowed.resource === undefined) return { form: narrowed, error: { field: 'resource', message: 'Choose a resource' } };
  if (!chosenLevel) return { form: narrowed, error: { field: 'level', message: 'Choose an access level' } };
  // The level names its own resource; one chosen above it that disagrees means the list was stale.
  if ((narrowed.provider !== undefined && chosenLevel.provider !== narrowed.provider) || (narrowed.resource !== undefined && chosenLevel.resource !== narrowed.resource)) {
    return { form: narrowed, error: { field: 'level', message: `Choose an access level of ${narrowed.resource ?? providerLabel(narrowed.provider!)}` } };
  }
  const chosen: RequestForm = { ...form, provider: chosenLevel.provider, resource: chosenLevel.resource, level: chosenLevel.level };
  return { form: chosen, entry: chosenLevel };
}

/** Where a request-service refusal goes on the form ("reason: ..." under the reason, and so on). */
export function formErrorOf(message: string): FormError {
  // The card asks for no scheduled start and shows choices above the level on the level's line.
  const refusal = refusalField({}, message);
  return { field: refusal.field === 'reason' || refusal.field === 'duration' ? refusal.field : 'level', message: refusal.text };
}

export interface RequestCardOptions {
  /** Whose card it is: the requester's, or the approvers'. */
  audience: CardAudience;
  /** The person this rendering is for (their actions are on it); none: a copy anyone may see (a channel's). */
  viewer?: string;
  /** Teams user ids whose clients ask for their own rendering (refresh). */
  userIds?: readonly string[];
  /** An error to show at the top, for the viewer (a refused click). */
  error?: string;
  /** The audit event that produced this state, for the status wording. */
  event?: AuditEventType;
  timeZone?: string;
}

/**
 * The card that follows a request: what was asked, where it stands (who approved, when it became
 * usable, when it ended), and the viewer's actions: Cancel while it waits and Relinquish while it is
 * active for the requester; Approve and Deny (with a reason) for an approver with a decision to make.
 */
export function requestCard(view: RequestView, options: RequestCardOptions): AdaptiveCard {
  const zone = options.timeZone ?? 'UTC';
  const event = options.event ?? 'requested';
  const where = view.resource === 'default' ? '' : ` in ${escapeMarkdown(view.resource)} (${escapeMarkdown(view.level)})`;
  const heading =
    options.audience === 'requester'
      ? `Your request for **${escapeMarkdown(describeAccess(view))}**${where}`
      : view.breakGlass
        ? `🚨 BREAK-GLASS: **${escapeMarkdown(view.requester)}** took **${escapeMarkdown(describeAccess(view))}**${where} without approval`
        : `**${escapeMarkdown(view.requester)}** requests **${escapeMarkdown(describeAccess(view))}**${where}`;
  const facts = [
    { title: 'Request', value: view.id },
    { title: 'Duration', value: humanDuration(view.duration) },
    { title: 'Reason', value: view.reason.trim() ? escapeMarkdown(limit(view.reason, 500)) : '_none given_' },
    { title: 'Requested', value: `${clockTime(view.createdAt, zone)} by ${escapeMarkdown(view.requester)}` },
    { title: 'Approvers', value: escapeMarkdown(orList(view.approvers)) || 'none' },
    ...(view.startAt ? [{ title: 'Starts', value: clockTime(view.startAt, zone, view.createdAt) }] : []),
    ...(view.activeAt ? [{ title: 'Usable since', value: clockTime(view.activeAt, zone, view.createdAt) }] : []),
    ...(view.endedAt ? [{ title: 'Ended', value: clockTime(view.endedAt, zone, view.activeAt ?? view.createdAt) }] : []),
  ];
  const body: unknown[] = [
    ...(options.error ? [warning(options.error)] : []),
    text(heading, { size: 'Medium' }),
    { type: 'FactSet', facts },
    text(statusLine(event, view, zone), { weight: 'Bolder' }),
  ];
  const data = { requestId: view.id, card: options.audience };
  const actions = options.viewer === undefined ? [] : actionsFor(view, options.audience, options.viewer, data);
  const userIds = [...new Set(options.userIds ?? [])].slice(0, REFRESH_USER_IDS_MAX);
  const refresh = userIds.length > 0 ? { refresh: { action: { type: 'Action.Execute', title: 'Refresh', verb: VERB.refresh, data }, userIds } } : {};
  return card(body, actions, refresh);
}

/** The actions `viewer` may take on this card now. */
export function actionsFor(view: RequestView, audience: CardAudience, viewer: string, data: Record<string, unknown>): unknown[] {
  if (audience === 'requester') {
    if (viewer !== view.requester) return [];
    if (view.status === 'pending' || (view.status === 'approved' && view.startAt !== undefined)) return [{ type: 'Action.Execute', title: 'Cancel request', verb: VERB.cancel, data }];
    if (view.status === 'active') return [{ type: 'Action.Execute', title: 'Relinquish', verb: VERB.relinquish, data, style: 'destructive' }];
    return [];
  }
  if (!awaitsDecisionBy(view, viewer)) return [];
  const extension = view.status === 'active' ? view.pendingExtension : undefined;
  const decision = { ...data, ...(extension?.id ? { subject: extension.id } : {}) };
  return [
    { type: 'Action.Execute', title: extension ? 'Approve extension' : 'Approve', verb: VERB.approve, data: decision, style: 'positive' },
    {
      type: 'Action.ShowCard',
      title: extension ? 'Deny extension' : 'Deny',
      card: card(
        [{ type: 'Input.Text', id: INPUT.comment, label: 'Why do you deny it? The requester sees your reason.', isMultiline: true, maxLength: 2000, isRequired: true, errorMessage: 'Say why you deny it' }],
        [{ type: 'Action.Execute', title: 'Deny', verb: VERB.deny, data: decision, style: 'destructive' }],
      ),
    },
  ];
}

/** Whether `email` may approve or deny this request (or its pending extension) now. */
function awaitsDecisionBy(view: RequestView, email: string): boolean {
  if (view.requester === email || !view.approvers.includes(email)) return false;
  if (view.status === 'pending') return !view.approvals.some((approval) => approval.by === email);
  if (view.status === 'active' && view.pendingExtension) return !view.pendingExtension.approvals.some((approval) => approval.by === email);
  return false;
}

/** A card holding only an error: for someone who may not see the request at all. */
export function errorCard(message: string): AdaptiveCard {
  return card([warning(message), text('Nothing has changed.', { isSubtle: true })]);
}

/** What `@P0 help` (and anything the bot does not understand) answers. */
export function helpText(usage: string): string {
  return [
    '**Request access with p0**',
    '- `@P0 request` opens a request card: pick the resource type, resource and access level, give a reason and a duration, and click **Request**.',
    '- Or in one line, the same words as the p0 CLI:',
    `\`${usage}\``,
    'e.g. `@P0 request aws role AdminRole --reason "deploy hotfix" --duration 1h`',
    "I'll send you a message that follows your request; approvers get Approve and Deny.",
  ].join('\n\n');
}
