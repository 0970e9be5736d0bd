/**
 * Audit (admins): every request and every event, filtered by person, resource, status and date,
 * with Revoke on active access and the same selection as CSV.
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import { Link, useSearchParams } from 'react-router';
import type { AuditAnswer, MeAnswer } from '../../../shared/api';
import { REQUEST_STATUSES, type RequestView } from '../../../shared/request';
import { ActionDialog } from '../ActionDialog';
import { ApiError, get } from '../api';
import { SelectField, TextInputField } from '../fields';
import { accessTitle, clock, grantWords, statusWords } from '../format';
import { useRefetchInterval } from '../live';
import { StatusBadge } from '../RequestCard';
import { Loading } from './common';

const FILTERS = ['requester', 'resource', 'status', 'from', 'to'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;
/** The events table shows this many (the CSV has them all). */
const EVENTS_SHOWN = 200;

export function AuditPage({ me }: { me: MeAnswer['user'] }) {
  if (!me.admin) {
    return (
      <>
        <header className="page-header">
          <h1>Audit</h1>
        </header>
        <p role="alert" className="form-alert">
          Only admins can see the audit trail. Ask your p0 administrator if you need it.
        </p>
      </>
    );
  }
  return <AdminAudit />;
}

function AdminAudit() {
  const [searchParams, setSearchParams] = useSearchParams();
  const applied = Object.fromEntries(FILTERS.map((name) => [name, searchParams.get(name) ?? ''])) as Filters;
  const [draft, setDraft] = useState<Filters>(applied);
  const query = new URLSearchParams(Object.entries(applied).filter(([, value]) => value !== '')).toString();
  const refetchInterval = useRefetchInterval();
  const trail = useQuery({ queryKey: ['requests', 'audit', query], queryFn: () => get<AuditAnswer>(`/v1/audit${query ? `?${query}` : ''}`), refetchInterval });
  const fieldErrors = trail.error instanceof ApiError ? filterErrors(trail.error.message) : {};
  const set = (name: keyof Filters) => (value: string | undefined) => setDraft((current) => ({ ...current, [name]: value ?? '' }));
  const byId = new Map((trail.data?.requests ?? []).map((view) => [view.id, view]));

  return (
    <>
      <header className="page-header">
        <h1>Audit</h1>
        <a className="button button-secondary" href={`/v1/audit?${new URLSearchParams([...new URLSearchParams(query), ['format', 'csv']]).toString()}`} download>
          Export CSV
        </a>
      </header>
      <Form
        className="filters"
        aria-label="Filters"
        validationErrors={fieldErrors}
        onSubmit={(event) => {
          event.preventDefault();
          setSearchParams(Object.fromEntries(Object.entries(draft).filter(([, value]) => value !== '')));
        }}
      >
        <TextInputField name="requester" label="Person" value={draft.requester} onChange={set('requester')} placeholder="alice@example.com" />
        <TextInputField name="resource" label="Resource" value={draft.resource} onChange={set('resource')} placeholder="prod, aws/prod or aws/prod/admin" />
        <SelectField
          name="status"
          label="Status"
          value={draft.status || 'any'}
          onChange={(value) => set('status')(value === 'any' ? '' : value)}
          choices={[{ id: 'any', label: 'Any status' }, ...REQUEST_STATUSES.map((status) => ({ id: status, label: statusWords(status) }))]}
        />
        <TextInputField name="from" label="From" type="date" value={draft.from} onChange={set('from')} />
        <TextInputField name="to" label="To" type="date" value={draft.to} onChange={set('to')} />
        <div className="filters-buttons">
          <Button type="submit" className="button button-primary">
            Apply filters
          </Button>
        </div>
      </Form>
      {trail.isPending ? <Loading /> : null}
      {trail.isError && Object.keys(fieldErrors).length === 0 ? (
        <p role="alert" className="form-alert">
          {trail.error.message}
        </p>
      ) : null}

      <section aria-labelledby="audit-requests-heading">
        <h2 id="audit-requests-heading">Requests ({trail.data?.requests.length ?? 0})</h2>
        <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="audit-requests-heading">
          <table>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Person</th>
                <th scope="col">Access</th>
                <th scope="col">Status</th>
                <th scope="col">Requested</th>
                <th scope="col">Usable from</th>
                <th scope="col">Ended</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {trail.data?.requests.map((view) => (
                <tr key={view.id}>
                  <td>
                    <Link to={`/requests/${view.id}`}>{view.id}</Link>
                  </td>
                  <td>{view.requester}</td>
                  <td>
                    {accessTitle(view)}
                    <br />
                    <span className="muted">{grantWords(view)}</span>
                  </td>
                  <td>
                    <StatusBadge view={view} />
                  </td>
                  <td>{clock(view.createdAt)}</td>
                  <td>{clock(view.activeAt)}</td>
                  <td>{clock(view.endedAt)}</td>
                  <td>{view.status === 'active' ? <RevokeDialog view={view} /> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="audit-events-heading">
        <h2 id="audit-events-heading">Events ({trail.data?.events.length ?? 0})</h2>
        <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="audit-events-heading">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Request</th>
                <th scope="col">Event</th>
                <th scope="col">By</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {trail.data?.events.slice(0, EVENTS_SHOWN).map((event) => (
                <tr key={`${event.requestId}-${event.seq}`}>
                  <td>{clock(event.at)}</td>
                  <td>
                    <Link to={`/requests/${event.requestId}`}>{byId.get(event.requestId) ? accessTitle(byId.get(event.requestId)!) : event.requestId}</Link>
                  </td>
                  <td>{event.type.replaceAll('_', ' ')}</td>
                  <td>{event.actor}</td>
                  <td className="details">{event.details ? JSON.stringify(event.details) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {(trail.data?.events.length ?? 0) > EVENTS_SHOWN ? <p className="muted">The newest {EVENTS_SHOWN} are shown; Export CSV has them all.</p> : null}
      </section>
    </>
  );
}

export function RevokeDialog({ view }: { view: RequestView }) {
  return (
    <ActionDialog
      label="Revoke"
      title="Revoke access"
      message={`End ${view.requester}'s access to ${accessTitle(view)} now. p0 removes it and confirms it is gone.`}
      action="revoke"
      request={view}
      commentLabel="Reason (optional)"
      variant="danger"
      done={(revoked) => (revoked.status === 'revoked' ? 'Access revoked: removal confirmed' : 'Revoking: removing the access')}
    />
  );
}

/** The API's refusal of a filter ("requester: ...; to: ..."), by field. */
function filterErrors(message: string): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const part of message.split('; ')) {
    const match = /^(requester|resource|status|from|to): (.*)$/.exec(part);
    if (match) errors[match[1]!] = match[2]!;
  }
  return errors;
}
