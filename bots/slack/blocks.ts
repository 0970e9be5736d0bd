/**
 * Every Block Kit payload the Slack app sends, built by small pure functions (data in, JSON out), so
 * tests can check them without Slack and the listeners stay thin: the request modal, its
 * confirmation, the deny modal, the requester's direct message and the approvers' message.
 */
import type { types } from '@slack/bolt';
import { formatDuration, parseDurationMs } from '../../shared/duration';
import type { CatalogEntry } from '../../shared/catalog';
import type { AuditEventType } from '../../shared/events';
import { errorForNonAdmins } from '../../service/providerErrors';
import { REQUEST_OPTIONS, requestUsage } from '../../shared/requestGrammar';
import { FINAL_STATUSES, type RequestView } from '../../shared/request';

type KnownBlock = types.KnownBlock;
type ModalView = types.ModalView;
type PlainTextOption = types.PlainTextOption;

/** Callback ids of the modals. */
export const VIEW = {
  request: 'p0_request',
  deny: 'p0_deny',
} as const;

/** Action ids of every interactive element. */
export const ACTION = {
  provider: 'p0_provider',
  resource: 'p0_resource',
  level: 'p0_level',
  reason: 'p0_reason',
  duration: 'p0_duration',
  breakGlass: 'p0_break_glass',
  denyComment: 'p0_deny_comment',
  approve: 'p0_approve',
  deny: 'p0_deny',
  relinquish: 'p0_relinquish',
  cancel: 'p0_cancel',
  review: 'p0_review',
  revoke: 'p0_revoke',
} as const;

/** What the request modal holds (or was pre-filled with). */
export interface RequestForm {
  provider?: string;
  resource?: string;
  /** The level's name within the resource. */
  level?: string;
  reason?: string;
  duration?: string;
  breakGlass?: boolean;
}

/** A message for chat.postMessage / chat.update. */
export interface ChatMessage {
  /** Notification and accessibility text. */
  text: string;
  blocks: KnownBlock[];
}

const PROVIDER_LABELS: Record<string, string> = { aws: 'AWS', gcloud: 'Google Cloud', k8s: 'Kubernetes' };
/** Choices offered when a level names no presets, kept within its bounds. */
const DURATION_LADDER = ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '1d', '2d', '3d', '7d'];
/** Slack's limits: option text 75 characters, select options 100, modal title 24. */
const OPTION_TEXT_MAX = 75;
const SELECT_OPTIONS_MAX = 100;

export function providerLabel(provider: string): string {
  return PROVIDER_LABELS[provider] ?? provider;
}

// ---------------------------------------------------------------------------------------------
// The request modal
// ---------------------------------------------------------------------------------------------

/**
 * Block ids of the modal's inputs for this form. The dependent selects carry their parents in
 * their ids, so changing the resource type gives a fresh resource select (Slack keeps a user's
 * choice across views.update only while the block id stays the same).
 */
export function requestBlockIds(form: RequestForm): Record<'provider' | 'resource' | 'level' | 'reason' | 'duration' | 'breakGlass', string> {
  const levelId = form.level === undefined ? '' : `${form.provider}/${form.resource}/${form.level}`;
  return {
    provider: 'provider',
    resource: `resource:${form.provider ?? ''}`,
    level: `level:${form.provider ?? ''}/${form.resource ?? ''}`,
    reason: 'reason',
    duration: `duration:${levelId}`,
    breakGlass: `break_glass:${levelId}`,
  };
}

/**
 * The form with every choice checked against what this person may request: unknown choices are
 * dropped (with everything that depends on them), and a step with a single possible answer is
 * answered. The builder and the reader both go through it, so they agree on the block ids.
 */
export function normalizeForm(catalog: readonly CatalogEntry[], form: RequestForm): RequestForm {
  const result: RequestForm = { reason: form.reason, duration: form.duration, breakGlass: form.breakGlass };
  const providers = distinct(catalog.map((entry) => entry.provider));
  result.provider = pick(providers, form.provider);
  if (result.provider === undefined) return result;
  const resources = distinct(catalog.filter((entry) => entry.provider === result.provider).map((entry) => entry.resource));
  result.resource = pick(resources, form.resource);
  if (result.resource === undefined) return result;
  const levels = catalog.filter((entry) => entry.provider === result.provider && entry.resource === result.resource).map((entry) => entry.level);
  result.level = pick(levels, form.level);
  return result;
}

/** The catalog entry the form has chosen, if it has chosen one. */
export function chosenEntry(catalog: readonly CatalogEntry[], form: RequestForm): CatalogEntry | undefined {
  if (form.level === undefined) return undefined;
  return catalog.find((entry) => entry.provider === form.provider && entry.resource === form.resource && entry.level === form.level);
}

/** The `/p0 request` modal: resource type, then resource, then level, then reason and duration. */
export function requestModal(catalog: readonly CatalogEntry[], prefill: RequestForm = {}, privateMetadata = ''): ModalView {
  const base = { type: 'modal' as const, callback_id: VIEW.request, private_metadata: privateMetadata, title: plain('Request access') };
  if (catalog.length === 0) {
    return {
      ...base,
      close: plain('Close'),
      blocks: [section("Your organization's access policy offers you nothing to request yet. Contact your p0 administrator.")],
    };
  }
  const form = normalizeForm(catalog, prefill);
  const ids = requestBlockIds(form);
  const entry = chosenEntry(catalog, form);
  const blocks: KnownBlock[] = [];

  const providers = distinct(catalog.map((candidate) => candidate.provider));
  blocks.push(selectInput(ids.provider, ACTION.provider, 'Resource type', providers.map((provider) => option(providerLabel(provider), provider)), form.provider, 'AWS, Google Cloud, Kubernetes...'));

  if (form.provider !== undefined) {
    const resources = distinct(catalog.filter((candidate) => candidate.provider === form.provider).map((candidate) => candidate.resource));
    blocks.push(selectInput(ids.resource, ACTION.resource, 'Resource', resources.map((resource) => option(resource, resource)), form.resource, 'Which account, project or cluster'));
  }
  if (form.resource !== undefined) {
    const levels = catalog.filter((candidate) => candidate.provider === form.provider && candidate.resource === form.resource);
    blocks.push(
      selectInput(
        ids.level,
        ACTION.level,
        'Access level',
        levels.map((level) => option(level.level, level.level, level.description ?? `${level.kind} ${level.target}`)),
        form.level,
        'What you need',
      ),
    );
  }
  if (entry) {
    blocks.push(context(`${entry.kind} ${entry.target} · ${approvalsWording(entry.approvalsRequired)}${entry.readOnly ? ' · read-only' : ''}`));
  }

  blocks.push({
    type: 'input',
    block_id: ids.reason,
    optional: !entry?.requireReason,
    label: plain('Reason'),
    hint: plain(reasonHint(entry)),
    element: {
      type: 'plain_text_input',
      action_id: ACTION.reason,
      multiline: true,
      max_length: 2000,
      ...(form.reason ? { initial_value: form.reason } : {}),
      placeholder: plain('Why you need it, e.g. deploy hotfix INC-42'),
    },
  });

  if (entry) {
    const choices = durationChoices(entry, form.duration);
    const initial = choices.includes(form.duration ?? '') ? form.duration : entry.defaultDuration;
    blocks.push(selectInput(ids.duration, ACTION.duration, 'Duration', choices.map((choice) => option(humanDuration(choice), choice)), initial, 'How long', false));
    if (entry.breakGlass) {
      const breakGlassOption = option(
        'Break-glass: emergency access now, without approval',
        'yes',
        `at most ${humanDuration(entry.breakGlass.maxDuration)}; approvers review it afterwards`,
      );
      blocks.push({
        type: 'input',
        block_id: ids.breakGlass,
        optional: true,
        label: plain('Emergency'),
        element: {
          type: 'checkboxes',
          action_id: ACTION.breakGlass,
          options: [breakGlassOption],
          ...(form.breakGlass ? { initial_options: [breakGlassOption] } : {}),
        },
      });
    }
  }

  return { ...base, submit: plain('Request'), close: plain('Cancel'), blocks };
}

/** Slack's `view.state.values`: block id -> action id -> value. */
export type ViewStateValues = Record<string, Record<string, { selected_option?: { value: string } | null; value?: string | null; selected_options?: Array<{ value: string }> | null }>>;

/** Reads the modal's state back into a form, following the same block ids the builder used. */
export function readRequestForm(catalog: readonly CatalogEntry[], values: ViewStateValues): RequestForm {
  const selected = (blockId: string, actionId: string) => values[blockId]?.[actionId]?.selected_option?.value ?? undefined;
  const raw: RequestForm = {};
  raw.provider = selected('provider', ACTION.provider);
  raw.resource = selected(requestBlockIds(normalizeForm(catalog, raw)).resource, ACTION.resource);
  raw.level = selected(requestBlockIds(normalizeForm(catalog, raw)).level, ACTION.level);
  const form = normalizeForm(catalog, raw);
  const ids = requestBlockIds(form);
  const reason = values[ids.reason]?.[ACTION.reason]?.value;
  if (reason) form.reason = reason;
  const duration = selected(ids.duration, ACTION.duration);
  if (duration) form.duration = duration;
  form.breakGlass = (values[ids.breakGlass]?.[ACTION.breakGlass]?.selected_options ?? []).some((choice) => choice.value === 'yes');
  return form;
}

/**
 * Where a request-service refusal belongs in the modal: "reason: ..." under the reason, "duration:
 * ..." under the duration, and anything about what was asked for under the access level.
 */
export function modalErrors(form: RequestForm, message: string): Record<string, string> {
  const ids = requestBlockIds(form);
  const field = /^(reason|duration|breakGlass): /.exec(message);
  const text = limit(field ? message.slice(field[0].length) : message, 2000);
  if (field?.[1] === 'reason') return { [ids.reason]: text };
  if (field?.[1] === 'duration') return { [ids.duration]: text };
  if (field?.[1] === 'breakGlass') return { [ids.breakGlass]: text };
  if (form.level !== undefined) return { [ids.level]: text };
  if (form.resource !== undefined) return { [ids.level]: text };
  if (form.provider !== undefined) return { [ids.resource]: text };
  return { [ids.provider]: text };
}

/** The modal's answer before a level is chosen: the missing field, named. */
export function missingChoiceErrors(form: RequestForm): Record<string, string> | undefined {
  const ids = requestBlockIds(form);
  if (form.provider === undefined) return { [ids.provider]: 'Choose a resource type' };
  if (form.resource === undefined) return { [ids.resource]: 'Choose a resource' };
  if (form.level === undefined) return { [ids.level]: 'Choose an access level' };
  return undefined;
}

/** The durations offered for a level: its presets, else a ladder within its bounds with its default. */
export function durationChoices(entry: CatalogEntry, wanted?: string): string[] {
  const minMs = parseDurationMs(entry.minDuration);
  const maxMs = parseDurationMs(entry.maxDuration);
  const within = (text: string) => {
    const ms = safeDurationMs(text);
    return ms !== undefined && ms >= minMs && ms <= maxMs;
  };
  const candidates = entry.durationPresets.length > 0 ? [...entry.durationPresets] : [...DURATION_LADDER.filter(within), entry.defaultDuration, entry.maxDuration];
  if (candidates.length === 0) candidates.push(entry.minDuration);
  if (wanted !== undefined && within(wanted)) candidates.push(wanted);
  // One spelling per length (90m and 1h30m... are the same length: keep the shortest spelling).
  const byMs = new Map<number, string>();
  for (const candidate of candidates) {
    const ms = safeDurationMs(candidate);
    if (ms !== undefined) byMs.set(ms, formatDuration(ms / 1000));
  }
  return [...byMs.entries()].sort(([a], [b]) => a - b).map(([, text]) => text).slice(0, SELECT_OPTIONS_MAX);
}

/** `90s` -> "90 seconds", `1h` -> "1 hour", `2d` -> "2 days". */
export function humanDuration(text: string): string {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) return text;
  const count = Number(match[1]);
  const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[match[2] as 's' | 'm' | 'h' | 'd'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** Shown in place of the modal while a slow submission is still on its way. */
export function submittingModal(): ModalView {
  return { type: 'modal', callback_id: VIEW.request, title: plain('Request access'), close: plain('Close'), blocks: [section('⏳ Sending your request...')] };
}

/** The modal after a successful submission. */
export function submittedModal(view: RequestView): ModalView {
  return {
    type: 'modal',
    callback_id: VIEW.request,
    title: plain('Access requested'),
    close: plain('Done'),
    blocks: [
      section(`*${view.id}*: ${describeAccess(view)} for ${humanDuration(view.duration)}`),
      context(statusLine('requested', view)),
      context("I'll send you a direct message with your request and update it as it changes."),
    ],
  };
}

/** The modal when a submission that outlived the 3-second window failed afterwards. */
export function failedModal(message: string): ModalView {
  return { type: 'modal', callback_id: VIEW.request, title: plain('Request access'), close: plain('Close'), blocks: [section(`:warning: ${escapeText(message)}`)] };
}

/** Carried through the deny modal: the request, and where to answer the approver privately. */
export interface DenyContext {
  requestId: string;
  /** What the Deny button was for: the request, or an extension by id (see decisionButtonValue). */
  subject?: string;
  channel?: string;
}

/**
 * An Approve/Deny button's value names what it decides: `req_...` for the request itself (the value
 * buttons carried before extensions had ids, so an old button can only ever decide the request), or
 * `req_.../ext-7` for one extension. The workflow refuses a button whose subject no longer waits.
 */
export function decisionButtonValue(requestId: string, extensionId: string | undefined): string {
  return extensionId ? `${requestId}/${extensionId}` : requestId;
}

export function parseDecisionButtonValue(value: string): { requestId: string; subject?: string } {
  const [requestId = '', subject] = value.split('/', 2);
  return subject ? { requestId, subject } : { requestId };
}

export const DENY_COMMENT_BLOCK = 'deny_comment';

export function denyModal(deny: DenyContext): ModalView {
  return {
    type: 'modal',
    callback_id: VIEW.deny,
    private_metadata: JSON.stringify(deny),
    title: plain('Deny request'),
    submit: plain('Deny'),
    close: plain('Back'),
    blocks: [
      section(`Deny *${deny.requestId}*? The requester sees your reason.`),
      {
        type: 'input',
        block_id: DENY_COMMENT_BLOCK,
        label: plain('Reason'),
        element: { type: 'plain_text_input', action_id: ACTION.denyComment, multiline: true, max_length: 2000 },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Messages about a request
// ---------------------------------------------------------------------------------------------

export interface MessageOptions {
  /** IANA time zone of the reader (a direct message); UTC otherwise. */
  timeZone?: string;
}

/** The requester's direct message: details, state, and Cancel / Relinquish when they apply. */
export function requesterMessage(event: AuditEventType, view: RequestView, options: MessageOptions = {}): ChatMessage {
  const status = statusLine(event, view, options.timeZone);
  const buttons: types.Button[] = [];
  if (view.status === 'pending' || (view.status === 'approved' && view.startAt !== undefined)) {
    buttons.push(button(ACTION.cancel, 'Cancel request', view.id, undefined, confirm('Cancel this request?', 'Approvers will no longer see it as waiting.', 'Cancel request')));
  }
  if (view.status === 'active') {
    buttons.push(button(ACTION.relinquish, 'Relinquish', view.id, 'danger', confirm('Give up this access now?', `Your ${describeAccess(view)} access ends now.`, 'Relinquish')));
  }
  const blocks: KnownBlock[] = [
    section(`Your request for *${escapeText(describeAccess(view))}*${locationSuffix(view)}`),
    { type: 'section', fields: detailFields(view, options.timeZone) },
    context(status),
  ];
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: `requester:${view.id}`, elements: buttons });
  return { text: `Your request ${view.id} for ${describeAccess(view)}: ${status}`, blocks };
}

/** The approvers' message (a direct message or a channel post): details, state, and the decision buttons. */
export function approverMessage(event: AuditEventType, view: RequestView, options: MessageOptions = {}): ChatMessage {
  const status = statusLine(event, view, options.timeZone);
  const buttons: types.Button[] = [];
  if (awaitsDecision(view)) {
    const extension = view.status === 'active' ? view.pendingExtension : undefined;
    const value = decisionButtonValue(view.id, extension?.id);
    buttons.push(button(ACTION.approve, extension ? 'Approve extension' : 'Approve', value, 'primary'));
    buttons.push(button(ACTION.deny, extension ? 'Deny extension' : 'Deny', value, 'danger'));
  }
  // Break-glass skipped the approvers: they may end it at once rather than wait for an admin.
  if (view.breakGlass && ['approved', 'provisioning', 'active'].includes(view.status)) {
    buttons.push(button(ACTION.revoke, 'Revoke', view.id, 'danger', confirm('Revoke this access now?', `${view.requester}'s ${describeAccess(view)} access ends now.`, 'Revoke')));
  }
  if (view.breakGlass && view.review === undefined && view.status !== 'pending') {
    buttons.push(button(ACTION.review, 'Mark reviewed', view.id));
  }
  const heading = view.breakGlass
    ? `:rotating_light: *BREAK-GLASS*: *${escapeText(view.requester)}* took *${escapeText(describeAccess(view))}*${locationSuffix(view)} without approval`
    : `*${escapeText(view.requester)}* requests *${escapeText(describeAccess(view))}*${locationSuffix(view)}`;
  const blocks: KnownBlock[] = [section(heading), { type: 'section', fields: detailFields(view, options.timeZone) }, context(status)];
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: `approver:${view.id}`, elements: buttons });
  return { text: `${view.requester} requests ${describeAccess(view)} (${view.id}): ${status}`, blocks };
}

/** Whether approvers have a decision to make now: the request, or an extension of it. */
export function awaitsDecision(view: RequestView): boolean {
  return view.status === 'pending' || (view.status === 'active' && view.pendingExtension !== undefined);
}

/** Whether approvers should hear about this request at all (nothing to tell them about auto-approved access). */
export function concernsApprovers(view: RequestView): boolean {
  return awaitsDecision(view) || (view.breakGlass === true && view.review === undefined);
}

/** One line saying where the request stands, in the reader's time zone. */
export function statusLine(event: AuditEventType, view: RequestView, timeZone = 'UTC'): string {
  const by = approvedByText(view);
  const approvedPart = view.breakGlass ? 'break-glass, no approval' : by ? `approved by ${by}` : 'approved';
  const decider = view.decision ? escapeText(view.decision.by) : 'p0';
  const comment = view.decision?.comment ? `: "${escapeText(view.decision.comment)}"` : '';
  const reviewPart = !view.breakGlass ? '' : view.review ? ` · reviewed by ${escapeText(view.review.by)}` : FINAL_STATUSES.includes(view.status) ? ' · waiting for review' : '';
  switch (view.status) {
    case 'pending': {
      const waitingFor = view.approvers.filter((approver) => !view.approvals.some((approval) => approval.by === approver));
      const progress = view.approvalsRequired > 1 ? ` (${view.approvals.length} of ${view.approvalsRequired} approvals${by ? `: ${by}` : ''})` : '';
      return `:hourglass_flowing_sand: Pending: waiting for approval by ${escapeText(orList(waitingFor))}${progress}`;
    }
    case 'approved':
      if (view.breakGlass) return ':rotating_light: Break-glass: granted without approval; approvers review it afterwards';
      if (view.startAt) return `:white_check_mark: Approved by ${by}; starts at ${clockTime(view.startAt, timeZone, view.createdAt)}`;
      return `:white_check_mark: Approved by ${by}`;
    case 'provisioning':
      return event === 'granted'
        ? `:mag: ${capitalize(approvedPart)} · granted, verifying that it works...`
        : `:gear: ${capitalize(approvedPart)} · provisioning...`;
    case 'active': {
      const until = view.expiresAt ? ` until ${clockTime(view.expiresAt, timeZone, view.activeAt)}` : '';
      const extension = view.pendingExtension ? ` · extension of ${humanDuration(view.pendingExtension.duration)} waiting for approval` : '';
      return `:large_green_circle: Active${until} (${approvedPart})${extension}${reviewPart}`;
    }
    case 'expired':
      return `:checkered_flag: Ended: expired${view.endedAt ? ` at ${clockTime(view.endedAt, timeZone, view.activeAt)}` : ''}${reviewPart}`;
    case 'relinquished':
      return `:checkered_flag: Ended: relinquished by ${decider}${view.endedAt ? ` at ${clockTime(view.endedAt, timeZone, view.activeAt)}` : ''}${comment}${reviewPart}`;
    case 'revoked':
      return `:no_entry: Ended: revoked by ${decider}${view.endedAt ? ` at ${clockTime(view.endedAt, timeZone, view.activeAt)}` : ''}${comment}${reviewPart}`;
    case 'denied':
      return `:x: Denied by ${decider}${comment}`;
    case 'cancelled':
      return `:no_entry_sign: Cancelled by ${decider}${comment}`;
    case 'timed_out':
      return ':hourglass: Timed out: nobody decided in time';
    case 'failed':
      // Whoever reads a chat message, they are not known to be an admin.
      return `:warning: Failed: ${escapeText(view.error === undefined ? 'unknown error' : errorForNonAdmins(view.error))}. Nothing stays granted.`;
  }
}

/** Who approved it, in words: `bob@example.com`, `bob@example.com and dana@example.com`, `policy rule oncall`. */
export function approvedByText(view: RequestView): string {
  return escapeText(andList(view.approvals.map((approval) => (approval.by.startsWith('policy:') ? `policy rule ${approval.by.slice('policy:'.length)}` : approval.by))));
}

/**
 * What to add to a refusal of a decided request when it does not say who decided: the workflow
 * names who denied, cancelled or ended it, but "already active" needs " (approved by bob)".
 */
export function decidedNote(view: RequestView, message: string): string {
  if (/ by /.test(message) || view.status === 'pending' || view.approvals.length === 0) return '';
  return ` (approved by ${approvedByText(view)})`;
}

/** The answer to a one-line `/p0 request ...`. */
export function createdReply(view: RequestView): string {
  return `*${view.id}*: ${escapeText(describeAccess(view))} for ${humanDuration(view.duration)}\n${statusLine('requested', view)}\nI'll send you a direct message with your request and update it as it changes.`;
}

/** `/p0 help` and `/p0 request --help`: the syntax, from the shared grammar's own list of options. */
export function helpText(): string {
  const options = REQUEST_OPTIONS.filter((option) => option.channels.includes('slack') && !option.notInUsage).map(
    (option) => `• \`${option.name}${option.value ? ` ${option.value}` : ''}\`: ${option.description}`,
  );
  return [
    '*Request access with p0*',
    '• `/p0 request` opens a form: pick the resource type, resource and access level, give a reason and a duration.',
    '• Or in one line, the same words as the p0 CLI:',
    `\`${requestUsage('slack')}\``,
    'e.g. `/p0 request aws role AdminRole --reason "deploy hotfix" --duration 1h`',
    ...options,
    'A partial command (e.g. `/p0 request aws`) opens the form with what you gave filled in.',
    "I'll send you a direct message about your request; approvers get Approve and Deny buttons.",
  ].join('\n');
}

/** `aws role AdminRole`. */
export function describeAccess(view: Pick<RequestView, 'provider' | 'kind' | 'target'>): string {
  return `${view.provider} ${view.kind} ${view.target}`;
}

/** A clock time in the reader's zone, with the day when it is not the reference's day: `14:32 UTC`, `Tue 5 May 09:00 CEST`. */
export function clockTime(iso: string, timeZone = 'UTC', referenceIso?: string): string {
  const zone = validTimeZone(timeZone);
  const date = new Date(iso);
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date);
  const zoneName = zone === 'UTC' ? 'UTC' : (new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' }).formatToParts(date).find((part) => part.type === 'timeZoneName')?.value ?? zone);
  const day = (when: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short' }).format(when);
  const prefix = referenceIso !== undefined && day(new Date(referenceIso)) !== day(date) ? `${day(date)} ` : '';
  return `${prefix}${time} ${zoneName}`;
}

/** mrkdwn control characters in text people typed (reasons, comments, error messages). */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// ---------------------------------------------------------------------------------------------
// Small builders
// ---------------------------------------------------------------------------------------------

function detailFields(view: RequestView, timeZone?: string): types.MrkdwnElement[] {
  const fields: types.MrkdwnElement[] = [
    mrkdwn(`*Request*\n${view.id}`),
    mrkdwn(`*Duration*\n${humanDuration(view.duration)}`),
    mrkdwn(`*Reason*\n${view.reason.trim() ? escapeText(limit(view.reason, 500)) : '_none given_'}`),
    mrkdwn(`*Requested*\n${clockTime(view.createdAt, timeZone)} by ${escapeText(view.requester)}`),
  ];
  if (view.startAt) fields.push(mrkdwn(`*Starts*\n${clockTime(view.startAt, timeZone, view.createdAt)}`));
  return fields;
}

function locationSuffix(view: RequestView): string {
  return view.resource === 'default' ? '' : ` in ${escapeText(view.resource)} (${escapeText(view.level)})`;
}

function reasonHint(entry: CatalogEntry | undefined): string {
  if (entry?.reasonPatternDescription) return `Approvers see it. It must contain ${entry.reasonPatternDescription}.`;
  if (entry?.requireReason) return 'Approvers see it. This access level requires a reason.';
  return 'Approvers see it.';
}

function approvalsWording(count: number): string {
  return count === 1 ? 'one approval' : `${count} approvals`;
}

/** A select; `dispatch` when choosing in it rebuilds the modal (the dependent selects). */
function selectInput(blockId: string, actionId: string, label: string, options: PlainTextOption[], initialValue: string | undefined, placeholder: string, dispatch = true): types.InputBlock {
  const initial = options.find((candidate) => candidate.value === initialValue);
  return {
    type: 'input',
    block_id: blockId,
    dispatch_action: dispatch,
    label: plain(label),
    element: {
      type: 'static_select',
      action_id: actionId,
      placeholder: plain(placeholder),
      options: options.slice(0, SELECT_OPTIONS_MAX),
      ...(initial ? { initial_option: initial } : {}),
    },
  };
}

function option(text: string, value: string, description?: string): PlainTextOption {
  return { text: plain(limit(text, OPTION_TEXT_MAX)), value, ...(description ? { description: plain(limit(description, OPTION_TEXT_MAX)) } : {}) };
}

function button(actionId: string, text: string, value: string, style?: 'primary' | 'danger', confirmation?: types.ConfirmationDialog): types.Button {
  return { type: 'button', action_id: actionId, text: plain(text), value, ...(style ? { style } : {}), ...(confirmation ? { confirm: confirmation } : {}) };
}

function confirm(title: string, text: string, yes: string): types.ConfirmationDialog {
  return { title: plain(title), text: plain(text), confirm: plain(yes), deny: plain('Back') };
}

function section(text: string): types.SectionBlock {
  return { type: 'section', text: mrkdwn(limit(text, 3000)) };
}

function context(text: string): types.ContextBlock {
  return { type: 'context', elements: [mrkdwn(limit(text, 3000))] };
}

function plain(text: string): types.PlainTextElement {
  return { type: 'plain_text', text, emoji: true };
}

function mrkdwn(text: string): types.MrkdwnElement {
  return { type: 'mrkdwn', text };
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function pick(choices: readonly string[], wanted: string | undefined): string | undefined {
  if (wanted !== undefined && choices.includes(wanted)) return wanted;
  return choices.length === 1 ? choices[0] : undefined;
}

function safeDurationMs(text: string): number | undefined {
  try {
    return parseDurationMs(text);
  } catch {
    return undefined;
  }
}

function limit(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function orList(items: readonly string[]): string {
  return joinList(items, 'or');
}

function andList(items: readonly string[]): string {
  return joinList(items, 'and');
}

function joinList(items: readonly string[], word: string): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} ${word} ${items[items.length - 1]}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function validTimeZone(timeZone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return timeZone;
  } catch {
    return 'UTC';
  }
}
