/**
 * Words about requests for people to read in a chat (Slack, Teams): durations, access, clock times
 * in the reader's zone, lists, and the one-line status every message shows. Pure string functions;
 * each chat passes its own style (how it escapes what people typed, its icons), so both say the same
 * thing in their own markup.
 */
import type { AuditEventType } from './events';
import { FINAL_STATUSES, type RequestView } from './request';

const PROVIDER_LABELS: Record<string, string> = { aws: 'AWS', gcloud: 'Google Cloud', k8s: 'Kubernetes' };

export function providerLabel(provider: string): string {
  return PROVIDER_LABELS[provider] ?? provider;
}

/** `90s` -> "90 seconds", `1h` -> "1 hour", `2d` -> "2 days". */
export function humanDuration(text: string): string {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) return text;
  const count = Number(match[1]);
  const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[match[2] as 's' | 'm' | 'h' | 'd'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
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

export function limit(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function orList(items: readonly string[]): string {
  return joinList(items, 'or');
}

export function andList(items: readonly string[]): string {
  return joinList(items, 'and');
}

function joinList(items: readonly string[], word: string): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} ${word} ${items[items.length - 1]}`;
}

export function capitalize(text: string): string {
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

/** The icon each state is shown with; a chat maps them to its own (Slack's `:x:`, an emoji). */
export type StatusIcon =
  | 'pending'
  | 'approved'
  | 'breakGlass'
  | 'verifying'
  | 'provisioning'
  | 'active'
  | 'ended'
  | 'revoked'
  | 'denied'
  | 'cancelled'
  | 'timedOut'
  | 'failed';

/** How a chat writes the status line. */
export interface ChatStyle {
  /** Makes text people typed (reasons, comments, emails, errors) safe in the chat's markup. */
  escape: (text: string) => string;
  icons: Record<StatusIcon, string>;
  /** The error of a failed request as non-admins may read it (a chat's readers are not known to be admins). */
  errorText: (message: string) => string;
}

/** Who approved it, in words: `bob@example.com`, `bob@example.com and dana@example.com`, `policy rule oncall`. */
export function approvedByText(view: RequestView, style: Pick<ChatStyle, 'escape'>): string {
  return style.escape(andList(view.approvals.map((approval) => (approval.by.startsWith('policy:') ? `policy rule ${approval.by.slice('policy:'.length)}` : approval.by))));
}

/** One line saying where the request stands, in the reader's time zone. */
export function statusLine(event: AuditEventType, view: RequestView, style: ChatStyle, timeZone = 'UTC'): string {
  const { escape, icons } = style;
  const by = approvedByText(view, style);
  const approvedPart = view.breakGlass ? 'break-glass, no approval' : by ? `approved by ${by}` : 'approved';
  const decider = view.decision ? escape(view.decision.by) : 'p0';
  const comment = view.decision?.comment ? `: "${escape(view.decision.comment)}"` : '';
  const reviewPart = !view.breakGlass ? '' : view.review ? ` · reviewed by ${escape(view.review.by)}` : FINAL_STATUSES.includes(view.status) ? ' · waiting for review' : '';
  const endedAt = view.endedAt ? ` at ${clockTime(view.endedAt, timeZone, view.activeAt)}` : '';
  switch (view.status) {
    case 'pending': {
      const waitingFor = view.approvers.filter((approver) => !view.approvals.some((approval) => approval.by === approver));
      const progress = view.approvalsRequired > 1 ? ` (${view.approvals.length} of ${view.approvalsRequired} approvals${by ? `: ${by}` : ''})` : '';
      return `${icons.pending} Pending: waiting for approval by ${escape(orList(waitingFor))}${progress}`;
    }
    case 'approved':
      if (view.breakGlass) return `${icons.breakGlass} Break-glass: granted without approval; approvers review it afterwards`;
      if (view.startAt) return `${icons.approved} Approved by ${by}; starts at ${clockTime(view.startAt, timeZone, view.createdAt)}`;
      return `${icons.approved} Approved by ${by}`;
    case 'provisioning':
      return event === 'granted' ? `${icons.verifying} ${capitalize(approvedPart)} · granted, verifying that it works...` : `${icons.provisioning} ${capitalize(approvedPart)} · provisioning...`;
    case 'active': {
      const until = view.expiresAt ? ` until ${clockTime(view.expiresAt, timeZone, view.activeAt)}` : '';
      const extension = view.pendingExtension ? ` · extension of ${humanDuration(view.pendingExtension.duration)} waiting for approval` : '';
      return `${icons.active} Active${until} (${approvedPart})${extension}${reviewPart}`;
    }
    case 'expired':
      return `${icons.ended} Ended: expired${endedAt}${reviewPart}`;
    case 'relinquished':
      return `${icons.ended} Ended: relinquished by ${decider}${endedAt}${comment}${reviewPart}`;
    case 'revoked':
      return `${icons.revoked} Ended: revoked by ${decider}${endedAt}${comment}${reviewPart}`;
    case 'denied':
      return `${icons.denied} Denied by ${decider}${comment}`;
    case 'cancelled':
      return `${icons.cancelled} Cancelled by ${decider}${comment}`;
    case 'timed_out':
      return `${icons.timedOut} Timed out: nobody decided in time`;
    case 'failed':
      return `${icons.failed} Failed: ${escape(view.error === undefined ? 'unknown error' : style.errorText(view.error))}. Nothing stays granted.`;
  }
}

/** Whether approvers have a decision to make now: the request, or an extension of it. */
export function awaitsDecision(view: RequestView): boolean {
  return view.status === 'pending' || (view.status === 'active' && view.pendingExtension !== undefined);
}

/** Whether approvers should hear about this request at all (nothing to tell them about auto-approved access). */
export function concernsApprovers(view: RequestView): boolean {
  return awaitsDecision(view) || (view.breakGlass === true && view.review === undefined);
}
