/**
 * Approvals: the requests (and extensions, and break-glass reviews) waiting for the signed-in
 * person, each with Approve and Deny; then the decisions they made.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button } from 'react-aria-components';
import type { MeAnswer, RequestAnswer, RequestListAnswer } from '../../../shared/api';
import type { RequestView } from '../../../shared/request';
import { humanDuration } from '../../../shared/requestForm';
import { ActionDialog } from '../ActionDialog';
import { ApiError, get, post } from '../api';
import { TextInputField } from '../fields';
import { accessTitle, clock } from '../format';
import { useRefetchInterval } from '../live';
import { RequestCard } from '../RequestCard';
import { notify, notifyError } from '../toasts';
import { LoadError, Loading } from './common';

/** My decisions shows this many. */
const DECISIONS_SHOWN = 20;

export function useWaitingForMe() {
  const refetchInterval = useRefetchInterval();
  return useQuery({ queryKey: ['requests', 'pendingApproval'], queryFn: () => get<RequestListAnswer>('/v1/requests?pendingApproval=true'), refetchInterval });
}

export function ApprovalsPage({ me }: { me: MeAnswer['user'] }) {
  const refetchInterval = useRefetchInterval();
  const waiting = useWaitingForMe();
  const visible = useQuery({ queryKey: ['requests', 'visible'], queryFn: () => get<RequestListAnswer>('/v1/requests'), refetchInterval });
  const decided = (visible.data?.requests ?? []).filter((view) => view.requester !== me.email && myDecision(view, me.email) !== undefined).slice(0, DECISIONS_SHOWN);

  return (
    <>
      <header className="page-header">
        <h1>Approvals</h1>
      </header>
      <section aria-labelledby="waiting-heading" className="activity-section">
        <h2 id="waiting-heading">Waiting for me</h2>
        {waiting.isPending ? <Loading /> : null}
        {waiting.isError ? <LoadError error={waiting.error} what="the requests waiting for you" /> : null}
        {waiting.data?.requests.length === 0 ? <p className="muted">Nothing is waiting for you.</p> : null}
        {waiting.data?.requests.map((view) => (
          <RequestCard key={view.id} view={view} showRequester>
            <PolicyNotes view={view} />
            <Decide view={view} />
          </RequestCard>
        ))}
      </section>
      <section aria-labelledby="decided-heading" className="activity-section">
        <h2 id="decided-heading">My decisions</h2>
        {visible.isError ? <LoadError error={visible.error} what="your decisions" /> : null}
        {visible.data && decided.length === 0 ? <p className="muted">You have not decided on any request yet.</p> : null}
        {decided.map((view) => (
          <RequestCard key={view.id} view={view} showRequester>
            <p className="card-note">{myDecision(view, me.email)}</p>
          </RequestCard>
        ))}
      </section>
    </>
  );
}

/** What the policy says about this decision: quorum, break-glass, a scheduled start, an extension. */
function PolicyNotes({ view }: { view: RequestView }) {
  const notes: string[] = [];
  if (view.pendingExtension && view.status === 'active') notes.push(`Extension of ${humanDuration(view.pendingExtension.duration)} asked${view.pendingExtension.comment ? `: “${view.pendingExtension.comment}”` : ''}`);
  else if (view.breakGlass) notes.push('Break-glass: granted without approval; your review is asked afterwards');
  else notes.push(view.approvalsRequired > 1 ? `Needs ${view.approvalsRequired} approvals (${view.approvals.length} so far)` : 'Needs one approval');
  if (view.startAt) notes.push(`Scheduled to start at ${clock(view.startAt)}`);
  return (
    <ul className="policy-notes" aria-label="Policy notes">
      {notes.map((note) => (
        <li key={note}>{note}</li>
      ))}
    </ul>
  );
}

/** Approve (optional comment) and Deny (asks for a reason); Review for break-glass access. */
function Decide({ view }: { view: RequestView }) {
  const [comment, setComment] = useState('');
  const queryClient = useQueryClient();
  const extension = view.status === 'active' && view.pendingExtension ? view.pendingExtension : undefined;
  const review = !extension && view.status !== 'pending' && view.breakGlass === true;
  const subject = extension ? (extension.id ?? 'extension') : 'request';
  const approve = useMutation({
    mutationFn: () => post<RequestAnswer>(`/v1/requests/${view.id}/${review ? 'review' : 'approve'}`, { ...(comment.trim() ? { comment: comment.trim() } : {}), ...(review ? {} : { subject }) }),
    onSuccess: ({ request }) => {
      queryClient.setQueryData(['request', request.id], { request });
      void queryClient.invalidateQueries({ queryKey: ['requests'] });
      notify(review ? 'Reviewed' : extension ? 'Extension approved' : 'Approved', `${accessTitle(request)} for ${request.requester}`);
    },
    onError: (error) => notifyError('Not approved', error instanceof ApiError ? error.message : String(error)),
  });
  return (
    <div className="decide">
      <TextInputField name="comment" label="Comment (optional)" value={comment} onChange={setComment} />
      <div className="decide-buttons">
        <Button className="button button-primary" onPress={() => !approve.isPending && approve.mutate()}>
          {review ? 'Review' : 'Approve'}
        </Button>
        {review ? null : (
          <ActionDialog
            label="Deny"
            title={extension ? 'Deny the extension' : 'Deny the request'}
            message={`Deny ${view.requester}'s ${extension ? 'extension of' : 'request for'} ${accessTitle(view)}? They see your reason.`}
            action="deny"
            request={view}
            commentLabel="Reason"
            commentRequired
            extraBody={{ subject }}
            variant="danger"
            done={() => (extension ? 'Extension denied' : 'Request denied')}
          />
        )}
      </div>
    </div>
  );
}

/** What `email` did with this request, in words, if anything. */
function myDecision(view: RequestView, email: string): string | undefined {
  const parts: string[] = [];
  const approval = view.approvals.find((candidate) => candidate.by === email);
  if (approval) parts.push(`You approved it at ${clock(approval.at)}${approval.comment ? `: “${approval.comment}”` : ''}`);
  for (const extension of view.extensions) if (extension.approvedBy.includes(email)) parts.push(`You approved an extension of ${humanDuration(extension.duration)} at ${clock(extension.at)}`);
  if (view.decision?.by === email && view.status !== 'relinquished' && view.status !== 'cancelled') {
    parts.push(`You ${view.status === 'revoked' ? 'revoked' : 'denied'} it at ${clock(view.decision.at)}${view.decision.comment ? `: “${view.decision.comment}”` : ''}`);
  }
  if (view.review?.by === email) parts.push(`You reviewed it at ${clock(view.review.at)}`);
  return parts.length > 0 ? parts.join('. ') : undefined;
}
