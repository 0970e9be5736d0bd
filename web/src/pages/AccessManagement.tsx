/**
 * Access Management: the Request Access button (top right) and the Activity of the signed-in
 * person's requests: Pending, Active, History.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button } from 'react-aria-components';
import { useSearchParams } from 'react-router';
import type { CatalogAnswer, RequestAnswer, RequestListAnswer } from '../../../shared/api';
import type { CatalogEntry } from '../../../shared/catalog';
import { RESOURCE_NOT_FOUND_MESSAGE } from '../../../shared/errors';
import { FINAL_STATUSES, type RequestView } from '../../../shared/request';
import type { RequestForm } from '../../../shared/requestForm';
import { ApiError, get, post } from '../api';
import { RelinquishDialog } from '../ActionDialog';
import { ExtendDialog } from '../ExtendDialog';
import { accessTitle } from '../format';
import { useRefetchInterval } from '../live';
import { RequestAccessDialog } from '../RequestAccessDialog';
import { RequestCard } from '../RequestCard';
import { notify, notifyError } from '../toasts';
import { LoadError, Loading } from './common';

/** History shows this many at first. */
const HISTORY_PAGE = 10;

export function AccessManagementPage() {
  const refetchInterval = useRefetchInterval();
  const catalog = useQuery({ queryKey: ['resources'], queryFn: () => get<CatalogAnswer>('/v1/resources') });
  const mine = useQuery({ queryKey: ['requests', 'mine'], queryFn: () => get<RequestListAnswer>('/v1/requests?mine=true'), refetchInterval });
  const [searchParams, setSearchParams] = useSearchParams();
  const linked = searchParams.get('request');
  const [open, setOpen] = useState(false);
  const [historyShown, setHistoryShown] = useState(HISTORY_PAGE);

  const requests = mine.data?.requests ?? [];
  const pending = requests.filter((view) => view.status === 'pending');
  const active = requests.filter((view) => view.status === 'active' || view.status === 'approved' || view.status === 'provisioning');
  const history = requests.filter((view) => FINAL_STATUSES.includes(view.status));

  const dialogOpen = open || (linked !== null && catalog.data !== undefined);
  const setDialogOpen = (isOpen: boolean) => {
    setOpen(isOpen);
    if (!isOpen && linked !== null) setSearchParams({}, { replace: true });
  };

  return (
    <>
      <header className="page-header">
        <h1>Access Management</h1>
        <Button className="button button-primary" onPress={() => setOpen(true)} isDisabled={!catalog.data}>
          Request Access
        </Button>
      </header>
      {catalog.isError ? <LoadError error={catalog.error} what="the catalog" /> : null}
      {catalog.data && dialogOpen ? (
        <RequestAccessDialog catalog={catalog.data.resources} isOpen onOpenChange={setDialogOpen} {...linkedRequest(catalog.data.resources, linked)} />
      ) : null}

      <h2>Activity</h2>
      {mine.isPending ? <Loading /> : null}
      {mine.isError ? <LoadError error={mine.error} what="your requests" /> : null}
      <section aria-labelledby="pending-heading" className="activity-section">
        <h3 id="pending-heading">Pending</h3>
        {pending.length === 0 ? <p className="muted">Nothing waiting for approval.</p> : null}
        {pending.map((view) => (
          <RequestCard key={view.id} view={view}>
            <CancelButton view={view} />
          </RequestCard>
        ))}
      </section>
      <section aria-labelledby="active-heading" className="activity-section">
        <h3 id="active-heading">Active</h3>
        {active.length === 0 ? <p className="muted">No access right now.</p> : null}
        {active.map((view) => (
          <RequestCard key={view.id} view={view}>
            <ActiveActions view={view} catalog={catalog.data?.resources ?? []} />
          </RequestCard>
        ))}
      </section>
      <section aria-labelledby="history-heading" className="activity-section">
        <h3 id="history-heading">History</h3>
        {history.length === 0 ? <p className="muted">No past requests.</p> : null}
        {history.slice(0, historyShown).map((view) => (
          <RequestCard key={view.id} view={view} />
        ))}
        {history.length > historyShown ? (
          <Button className="button button-secondary" onPress={() => setHistoryShown((shown) => shown + HISTORY_PAGE)}>
            Show more history
          </Button>
        ) : null}
      </section>
    </>
  );
}

/** `/?request=aws/staging/developers` opens the dialog on that level; one not offered says so on the level. */
function linkedRequest(catalog: readonly CatalogEntry[], linked: string | null): { prefill?: RequestForm; initialErrors?: Record<string, string> } {
  if (linked === null) return {};
  const [provider, resource, level] = linked.split('/');
  const prefill = { provider, resource, level };
  const offered = catalog.some((entry) => entry.provider === provider && entry.resource === resource && entry.level === level);
  return { prefill, initialErrors: offered ? {} : { level: RESOURCE_NOT_FOUND_MESSAGE } };
}

function CancelButton({ view }: { view: RequestView }) {
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => post<RequestAnswer>(`/v1/requests/${view.id}/cancel`),
    onSuccess: ({ request }) => {
      queryClient.setQueryData(['request', request.id], { request });
      void queryClient.invalidateQueries({ queryKey: ['requests'] });
      notify('Request cancelled', accessTitle(request));
    },
    onError: (error) => notifyError('Could not cancel the request', error instanceof ApiError ? error.message : String(error)),
  });
  return (
    <Button className="button button-secondary" onPress={() => !cancel.isPending && cancel.mutate()}>
      Cancel request
    </Button>
  );
}

function ActiveActions({ view, catalog }: { view: RequestView; catalog: readonly CatalogEntry[] }) {
  if (view.status !== 'active') return null;
  const entry = catalog.find((candidate) => candidate.provider === view.provider && candidate.resource === view.resource && candidate.level === view.level);
  return (
    <>
      <RelinquishDialog view={view} />
      {entry?.allowExtension && !view.pendingExtension ? <ExtendDialog view={view} entry={entry} /> : null}
    </>
  );
}
