/**
 * One request as the lists show it: what it is for, where it stands in words that say when access
 * really works and when it is really gone, and the actions the viewer may take.
 */
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { AuditEventsAnswer } from '../../shared/api';
import { FINAL_STATUSES, type RequestView } from '../../shared/request';
import { humanDuration } from '../../shared/requestForm';
import { get } from './api';
import { accessTitle, approvedBy, clock, grantWords, listWords, span, statusWords, stillToApprove, useNow } from './format';

export function RequestCard({ view, children, showRequester = false }: { view: RequestView; children?: ReactNode; showRequester?: boolean }) {
  return (
    <article className={`card card-${view.status}`} aria-labelledby={`${view.id}-title`}>
      <header className="card-header">
        <h4 id={`${view.id}-title`} className="card-title">
          <Link to={`/requests/${view.id}`}>{accessTitle(view)}</Link>
        </h4>
        <StatusBadge view={view} />
      </header>
      <p className="card-grant">
        {grantWords(view)} · {humanDuration(view.duration)}
        {view.breakGlass ? ' · break-glass' : ''}
      </p>
      <dl className="facts">
        {showRequester ? <Fact term="Requester">{view.requester}</Fact> : null}
        <Fact term="Reason">{view.reason || <span className="muted">none given</span>}</Fact>
        <StateFacts view={view} />
      </dl>
      {children ? <div className="card-actions">{children}</div> : null}
    </article>
  );
}

export function StatusBadge({ view }: { view: RequestView }) {
  return <span className={`badge badge-${view.status}`}>{statusWords(view.status)}</span>;
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="fact">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** The facts that matter in the request's state: who may approve, when access works, when it ends. */
export function StateFacts({ view }: { view: RequestView }) {
  switch (view.status) {
    case 'pending': {
      const waiting = stillToApprove(view);
      return (
        <>
          <Fact term="Approvers">{listWords(waiting.length > 0 ? waiting : view.approvers, 'or') || 'none'}</Fact>
          <Fact term="Approvals">
            {view.approvals.length} of {view.approvalsRequired}
            {view.approvals.length > 0 ? ` (${approvedBy(view.approvals)})` : ''}
          </Fact>
          <Fact term="Requested">{clock(view.createdAt)}</Fact>
        </>
      );
    }
    case 'approved':
    case 'provisioning':
      return (
        <>
          <Fact term="Approved by">{view.breakGlass ? 'break-glass, reviewed afterwards' : approvedBy(view.approvals) || 'policy'}</Fact>
          <Fact term="Usable">
            {view.startAt && Date.parse(view.startAt) > Date.now() ? `not yet: starts at ${clock(view.startAt)}` : 'not yet: granting it and checking that it works'}
          </Fact>
        </>
      );
    case 'active':
      return <ActiveFacts view={view} />;
    default:
      return <EndedFacts view={view} />;
  }
}

function ActiveFacts({ view }: { view: RequestView }) {
  const now = useNow();
  const left = view.expiresAt ? Date.parse(view.expiresAt) - now : undefined;
  return (
    <>
      <Fact term="Usable since">{clock(view.activeAt)}</Fact>
      <Fact term="Time left">
        <span role="timer" aria-live="off">
          {left === undefined ? 'unknown' : left > 0 ? span(left) : 'ending now'}
        </span>
        {view.expiresAt ? ` (until ${clock(view.expiresAt)})` : ''}
      </Fact>
      <Fact term="Approved by">{view.breakGlass ? 'break-glass, reviewed afterwards' : approvedBy(view.approvals) || 'policy'}</Fact>
      {view.pendingExtension ? <Fact term="Extension">{humanDuration(view.pendingExtension.duration)} more, waiting for approval</Fact> : null}
      {view.extensions.length > 0 ? <Fact term="Extended">{view.extensions.map((extension) => humanDuration(extension.duration)).join(', ')}</Fact> : null}
    </>
  );
}

/** How it ended; for access that was granted, whether its removal was confirmed (from the end event). */
function EndedFacts({ view }: { view: RequestView }) {
  const granted = view.activeAt !== undefined;
  const removal = useRemoval(view, granted && FINAL_STATUSES.includes(view.status));
  const decider = view.decision ? ` by ${view.decision.by}` : '';
  const why = view.decision?.comment ? `: “${view.decision.comment}”` : '';
  const ended: Record<string, string> = {
    expired: 'expired',
    relinquished: `relinquished${decider}${why}`,
    revoked: `revoked${decider}${why}`,
    denied: `denied${decider}${why}`,
    cancelled: `cancelled${decider}${why}`,
    timed_out: 'nobody decided in time',
    failed: `failed: ${view.error ?? 'unknown error'}. Nothing stays granted.`,
  };
  return (
    <>
      {view.approvals.length > 0 ? <Fact term="Approved by">{approvedBy(view.approvals)}</Fact> : null}
      {granted ? <Fact term="Usable from">{clock(view.activeAt)}</Fact> : null}
      <Fact term="Ended">
        {clock(view.endedAt)} {ended[view.status] ? `(${ended[view.status]})` : ''}
      </Fact>
      {granted ? <Fact term="Removal">{removal}</Fact> : null}
    </>
  );
}

/** "confirmed gone at 14:32:05", or why it could not be confirmed. */
function useRemoval(view: RequestView, wanted: boolean): string {
  const trail = useQuery({ queryKey: ['events', view.id], queryFn: () => get<AuditEventsAnswer>(`/v1/requests/${view.id}/events`), enabled: wanted, staleTime: Infinity });
  if (!wanted) return '';
  if (!trail.data) return trail.isError ? 'not known' : '…';
  const end = [...trail.data.events].reverse().find((event) => event.type === view.status);
  const details = end?.details ?? {};
  if (details.removedAtProvider === true) return `confirmed gone at ${clock(end?.at)}`;
  if (details.removedAtProvider === false) return `not confirmed: ${typeof details.removal === 'string' ? details.removal : 'see the audit trail'}`;
  return `ended at ${clock(view.endedAt)}`;
}
