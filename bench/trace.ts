/**
 * `npm run bench -- --trace`: one request's steps from the approve call to the API showing `active`,
 * read from its event history, so the next change to the workflow shows its cost. Each line is one
 * history event with its time since the approve call (the bench's clock; the server runs on the same
 * machine) and since the line before; activities are named with the audit event or notification
 * they carry, and their queue wait (scheduled -> started) and run (started -> completed) are apart.
 */
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Client } from '@temporalio/client';

/** The fields of a history event (the Temporal CLI's JSON, as in test/fixtures/histories) the trace reads. */
interface HistoryEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

export async function fetchHistoryEvents(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (JSON.parse(historyToJSON(history)) as { events: HistoryEvent[] }).events;
}

export interface TraceMoments {
  /** Date.now() when the approve call was sent. */
  approveSentAt: number;
  /** Date.now() when the API first showed `active`. */
  activeSeenAt: number;
}

/** The trace's lines and a one-line count of what ran between approve and active. */
export function traceLines(events: HistoryEvent[], moments: TraceMoments): string[] {
  const labels = new Map<string, string>();
  const lines: string[] = [];
  const counts = { workflowTasks: 0, activities: 0, localActivities: 0, events: 0 };
  const perActivity = new Map<string, number>();
  let previousAt = moments.approveSentAt;
  let activeShown = false;
  const row = (at: number, text: string) => {
    lines.push(`${String(Math.round(at - moments.approveSentAt)).padStart(7)} ms ${`(+${Math.round(at - previousAt)})`.padStart(8)}  ${text}`);
    previousAt = at;
  };
  lines.push(`${'+approve'.padStart(10)} ${'(step)'.padStart(8)}  event`);
  row(moments.approveSentAt, 'approve call sent to the API');
  // Labels first (an activity's later events name it by its scheduled event), then in time order:
  // an activity's `started` event is written with its completion, after events that happened later.
  const described = events.map((event) => ({ event, at: eventTimeMs(event.eventTime), label: describe(event, labels) }));
  described.sort((a, b) => a.at - b.at || Number(a.event.eventId) - Number(b.event.eventId));
  for (const { event, at, label } of described) {
    // Events before the approve call belong to the request's start; the trace ends at the first event after the API showed active.
    if (at < moments.approveSentAt - 1) continue;
    if (!activeShown && at > moments.activeSeenAt) {
      row(moments.activeSeenAt, '== the API shows the request active ==');
      activeShown = true;
    }
    if (activeShown) break;
    counts.events += 1;
    if (event.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED') counts.workflowTasks += 1;
    if (event.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED') {
      counts.activities += 1;
      const name = (label.split(' ')[1] ?? '?').replace(/\(.*$/, '');
      perActivity.set(name, (perActivity.get(name) ?? 0) + 1);
    }
    if (event.eventType === 'EVENT_TYPE_MARKER_RECORDED' && label.startsWith('local activity')) counts.localActivities += 1;
    row(at, `#${event.eventId} ${label}`);
  }
  if (!activeShown) row(moments.activeSeenAt, '== the API shows the request active ==');
  const byName = [...perActivity].map(([name, count]) => `${name} x${count}`).join(', ');
  lines.push(
    `approve -> active (API) ${Math.round(moments.activeSeenAt - moments.approveSentAt)} ms: ${counts.events} events, ${counts.workflowTasks} workflow tasks, ` +
      `${counts.activities} activities${byName ? ` (${byName})` : ''}, ${counts.localActivities} local activities`,
  );
  return lines;
}

/** The attributes the trace reads, of whichever event type. */
interface EventAttributes {
  activityType?: { name?: string };
  input?: { payloads?: EncodedPayload[] };
  scheduledEventId?: string;
  attempt?: number;
  details?: { data?: { payloads?: EncodedPayload[] } };
  markerName?: string;
  acceptedRequest?: { input?: { name?: string } };
  signalName?: string;
  startToFireTimeout?: string;
}

interface EncodedPayload {
  data?: string;
}

function describe(event: HistoryEvent, labels: Map<string, string>): string {
  const type = event.eventType.replace(/^EVENT_TYPE_/, '').toLowerCase().replace(/_/g, ' ');
  const attributes = (Object.entries(event).find(([key]) => key.endsWith('EventAttributes'))?.[1] ?? {}) as EventAttributes;
  switch (event.eventType) {
    case 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED': {
      const name = `${attributes.activityType?.name ?? '?'}${subjectOf(firstArg(attributes.input?.payloads))}`;
      labels.set(event.eventId, name);
      return `activity ${name} scheduled`;
    }
    case 'EVENT_TYPE_ACTIVITY_TASK_STARTED':
    case 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED':
    case 'EVENT_TYPE_ACTIVITY_TASK_FAILED':
    case 'EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT': {
      const name = labels.get(String(attributes.scheduledEventId)) ?? '?';
      const attempt = attributes.attempt && attributes.attempt > 1 ? ` (attempt ${attributes.attempt})` : '';
      return `activity ${name} ${type.replace('activity task ', '')}${attempt}`;
    }
    case 'EVENT_TYPE_MARKER_RECORDED': {
      // A local activity's marker carries its type (core's LocalActivityMarkerData).
      const data = firstArg(attributes.details?.data?.payloads) as { activity_type?: unknown; activityType?: unknown } | undefined;
      const activityType = data?.activity_type ?? data?.activityType;
      return typeof activityType === 'string' ? `local activity ${activityType} recorded` : `marker ${attributes.markerName ?? ''}`;
    }
    case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED':
      return `update ${attributes.acceptedRequest?.input?.name ?? '?'} accepted`;
    case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED':
      return 'update completed';
    case 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED':
      return `signal ${attributes.signalName ?? '?'}`;
    case 'EVENT_TYPE_TIMER_STARTED':
      return `timer started (${attributes.startToFireTimeout ?? '?'})`;
    default:
      return type;
  }
}

/** The first argument of an activity call or marker, decoded when it is JSON. */
function firstArg(payloads: EncodedPayload[] | undefined): unknown {
  const data = payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    return JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `(approved)` for recordEvent and notify, whose first argument names the audit event. */
function subjectOf(arg: unknown): string {
  if (typeof arg !== 'object' || arg === null) return '';
  const { type, event } = arg as { type?: unknown; event?: unknown };
  const subject = typeof type === 'string' ? type : typeof event === 'string' ? event : undefined;
  return subject ? `(${subject})` : '';
}

/** `2026-11-25T09:36:22.122142892Z` -> ms since the epoch (Date.parse drops digits past ms on some engines, so cut them). */
function eventTimeMs(time: string): number {
  return Date.parse(time.replace(/(\.\d{3})\d*Z$/, '$1Z'));
}
