/**
 * Words about requests for people to read in Slack: durations, access, clock times in the reader's
 * zone, lists, and escaping of what people typed. Pure string functions, no Block Kit.
 */
import type { RequestView } from '../../shared/request';

export { humanDuration, providerLabel } from '../../shared/requestForm';

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
