/**
 * What the Slack app says about a request, as pure functions: the requester's direct message, the
 * approvers' message with its decision buttons, the one-line status both show, and the short replies
 * to `/p0` (created, help, the note added to a refusal).
 */
import type { AuditEventType } from '../../shared/events';
import type { types } from '@slack/bolt';
import { errorForNonAdmins } from '../../service/providerErrors';
import { REQUEST_OPTIONS, requestUsage } from '../../shared/requestGrammar';
import type { RequestView } from '../../shared/request';
import { approvedByText as sharedApprovedByText, awaitsDecision, statusLine as sharedStatusLine, type ChatStyle } from '../../shared/requestWords';
import { ACTION, button, confirm, context, mrkdwn, section, type ChatMessage, type KnownBlock } from './blockKit';
import { clockTime, describeAccess, escapeText, humanDuration, limit } from './text';

export { awaitsDecision, concernsApprovers } from '../../shared/requestWords';

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

/** How Slack writes the status line: mrkdwn escaping, Slack's emoji codes. */
const SLACK_STYLE: ChatStyle = {
  escape: escapeText,
  errorText: errorForNonAdmins,
  icons: {
    pending: ':hourglass_flowing_sand:',
    approved: ':white_check_mark:',
    breakGlass: ':rotating_light:',
    verifying: ':mag:',
    provisioning: ':gear:',
    active: ':large_green_circle:',
    ended: ':checkered_flag:',
    revoked: ':no_entry:',
    denied: ':x:',
    cancelled: ':no_entry_sign:',
    timedOut: ':hourglass:',
    failed: ':warning:',
  },
};

/** One line saying where the request stands, in the reader's time zone. */
export function statusLine(event: AuditEventType, view: RequestView, timeZone = 'UTC'): string {
  return sharedStatusLine(event, view, SLACK_STYLE, timeZone);
}

/** Who approved it, in words: `bob@example.com`, `bob@example.com and dana@example.com`, `policy rule oncall`. */
export function approvedByText(view: RequestView): string {
  return sharedApprovedByText(view, SLACK_STYLE);
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
