/** Words and times for people: the request's access, its state, clock times in the reader's zone, time left. */
import { useEffect, useState } from 'react';
import { providerLabel } from '../../shared/requestForm';
import type { Decision, RequestStatus, RequestView } from '../../shared/request';

/** "AWS · staging · developers". */
export function accessTitle(view: Pick<RequestView, 'provider' | 'resource' | 'level'>): string {
  return `${providerLabel(view.provider)} · ${view.resource} · ${view.level}`;
}

/** "group Developers". */
export function grantWords(view: Pick<RequestView, 'kind' | 'target'>): string {
  return `${view.kind} ${view.target}`;
}

const STATUS_WORDS: Record<RequestStatus, string> = {
  pending: 'Pending approval',
  approved: 'Approved',
  provisioning: 'Granting',
  active: 'Active',
  expired: 'Expired',
  relinquished: 'Relinquished',
  revoked: 'Revoked',
  denied: 'Denied',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
  failed: 'Failed',
};

export function statusWords(status: RequestStatus): string {
  return STATUS_WORDS[status];
}

/** A clock time in the reader's zone; with the day when it is not today. */
export function clock(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (date.toDateString() === new Date().toDateString()) return time;
  return `${date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })} ${time}`;
}

/** "1h 04m 12s", "3m 05s", "42s". */
export function span(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (hours > 0) return `${hours}h ${two(minutes)}m ${two(seconds)}s`;
  if (minutes > 0) return `${minutes}m ${two(seconds)}s`;
  return `${seconds}s`;
}

/** The current time, re-read every `everyMs` (for countdowns). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** Who approved, in words: "bob@example.com and dana@example.com", "policy rule oncall". */
export function approvedBy(approvals: readonly Decision[]): string {
  return listWords(approvals.map((approval) => (approval.by.startsWith('policy:') ? `policy rule ${approval.by.slice('policy:'.length)}` : approval.by)), 'and');
}

/** The approvers who have not approved yet. */
export function stillToApprove(view: RequestView): string[] {
  return view.approvers.filter((approver) => !view.approvals.some((approval) => approval.by === approver) && approver !== view.requester);
}

export function listWords(items: readonly string[], word: 'and' | 'or'): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} ${word} ${items[items.length - 1]}`;
}
