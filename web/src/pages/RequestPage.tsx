/** A request's own page: where it stands, what the viewer may do with it, and its full audit trail. */
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import type { AuditEventsAnswer, CatalogAnswer, MeAnswer, RequestAnswer } from '../../../shared/api';
import type { AuditEvent } from '../../../shared/events';
import { ActionDialog, RelinquishDialog } from '../ActionDialog';
import { get } from '../api';
import { ExtendDialog } from '../ExtendDialog';
import { accessTitle, clock } from '../format';
import { useRefetchInterval } from '../live';
import { RequestCard } from '../RequestCard';
import { RevokeDialog } from './Audit';
import { LoadError, Loading } from './common';

export function RequestPage({ me }: { me: MeAnswer['user'] }) {
  const { id = '' } = useParams();
  const refetchInterval = useRefetchInterval();
  const request = useQuery({ queryKey: ['request', id], queryFn: () => get<RequestAnswer>(`/v1/requests/${encodeURIComponent(id)}`), refetchInterval });
  const trail = useQuery({ queryKey: ['events', id], queryFn: () => get<AuditEventsAnswer>(`/v1/requests/${encodeURIComponent(id)}/events`), refetchInterval, enabled: request.isSuccess });
  const catalog = useQuery({ queryKey: ['resources'], queryFn: () => get<CatalogAnswer>('/v1/resources') });
  const view = request.data?.request;
  const entry = view && catalog.data?.resources.find((candidate) => candidate.provider === view.provider && candidate.resource === view.resource && candidate.level === view.level);

  return (
    <>
      <header className="page-header">
        <h1>{view ? accessTitle(view) : 'Request'}</h1>
        <Link to="/" className="button button-secondary">
          Back to Access Management
        </Link>
      </header>
      <p className="muted">{id}</p>
      {request.isPending ? <Loading /> : null}
      {request.isError ? <LoadError error={request.error} what="this request" /> : null}
      {view ? (
        <RequestCard view={view} showRequester>
          {view.requester === me.email && view.status === 'pending' ? (
            <ActionDialog label="Cancel request" title="Cancel the request" message="Withdraw this request? Nothing has been granted." action="cancel" request={view} commentLabel="Comment (optional)" done={() => 'Request cancelled'} />
          ) : null}
          {view.requester === me.email && view.status === 'active' ? <RelinquishDialog view={view} /> : null}
          {view.requester === me.email && view.status === 'active' && entry?.allowExtension && !view.pendingExtension ? <ExtendDialog view={view} entry={entry} /> : null}
          {me.admin && view.status === 'active' ? <RevokeDialog view={view} /> : null}
        </RequestCard>
      ) : null}
      <section aria-labelledby="trail-heading">
        <h2 id="trail-heading">Audit trail</h2>
        {trail.isError ? <LoadError error={trail.error} what="the audit trail" /> : null}
        <ol className="trail">
          {trail.data?.events.map((event) => (
            <li key={event.seq}>
              <span className="trail-time">{clock(event.at)}</span> <strong>{event.type.replaceAll('_', ' ')}</strong> by {event.actor}
              {describeDetails(event) ? <span className="trail-details"> · {describeDetails(event)}</span> : null}
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}

/** The parts of an event's details a person reads: comments, removal outcomes, errors. */
function describeDetails(event: AuditEvent): string {
  const details = event.details ?? {};
  const parts: string[] = [];
  if (typeof details.comment === 'string') parts.push(`“${details.comment}”`);
  if (details.removedAtProvider === true) parts.push('removal confirmed');
  if (details.removedAtProvider === false) parts.push(`removal not confirmed${typeof details.removal === 'string' ? `: ${details.removal}` : ''}`);
  else if (typeof details.removal === 'string') parts.push(details.removal);
  if (typeof details.error === 'string') parts.push(details.error);
  if (typeof details.duration === 'string') parts.push(details.duration);
  return parts.join(' · ');
}
