/** How the CLI shows things: aligned tables, key/value blocks, local times, JSON. */
import type { RequestView } from '../shared/request';
import type { ReconcileEvent, ReconcileOutcome, ReconcileReport } from '../shared/reconcile';

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export function printJson(stream: OutputStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_header, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** `label  value` lines with the labels aligned. */
export function formatFields(fields: Array<[string, string | undefined]>): string {
  const shown = fields.filter((field): field is [string, string] => field[1] !== undefined && field[1] !== '');
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `  ${label.padEnd(width)}  ${value}\n`).join('');
}

const pad = (value: number) => String(value).padStart(2, '0');

/** Local wall-clock time: `14:32` (or `14:32:05` with seconds), with the date when it is not today. */
export function formatClock(iso: string, options: { seconds?: boolean; now?: Date } = {}): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const now = options.now ?? new Date();
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}${options.seconds ? `:${pad(date.getSeconds())}` : ''}`;
  return date.toDateString() === now.toDateString() ? time : `${localDate(date)} ${time}`;
}

/** Local `YYYY-MM-DD HH:MM:SS`. */
export function formatTimestamp(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${localDate(date)} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function localDate(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** `3s`, `4m 05s`, `1h 02m`: how long something has taken. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${pad(seconds % 60)}s`;
  return `${Math.floor(minutes / 60)}h ${pad(minutes % 60)}m`;
}

/**
 * `aws group Developers`, plus ` in prod` for a named catalog resource (e.g. an AWS account). A
 * config without resources puts everything in one called `default`, which says nothing to a reader.
 */
export function describeTarget(view: Pick<RequestView, 'provider' | 'kind' | 'target'> & { resource?: unknown }): string {
  const where = typeof view.resource === 'string' && view.resource && view.resource !== 'default' ? ` in ${view.resource}` : '';
  return `${view.provider} ${view.kind} ${view.target}${where}`;
}

/** `bob@example.com` / `bob@example.com or dana@example.com` / `any 2 of bob, dana and sec`. */
export function describeApprovers(view: Pick<RequestView, 'approvers' | 'approvalsRequired'>): string {
  const list = view.approvers.length <= 2 ? view.approvers.join(' or ') : `${view.approvers.slice(0, -1).join(', ')} or ${view.approvers.at(-1)}`;
  return view.approvalsRequired > 1 ? `${view.approvalsRequired} of ${view.approvers.join(', ')}` : list;
}

function quoted(comment: string | undefined): string {
  return comment ? `: "${comment}"` : '';
}

/** When the access ends, in words: `14:32` for long grants, `14:32:05` for short ones. */
export function describeExpiry(view: Pick<RequestView, 'expiresAt' | 'durationSeconds'>): string {
  if (!view.expiresAt) return '';
  return formatClock(view.expiresAt, { seconds: view.durationSeconds < 600 });
}

/** Who let it through: the approvers (or an auto-approval rule, `policy:<rule>`), or break-glass. */
function describeApproval(view: RequestView): string {
  if (view.approvals.length === 0) return view.breakGlass ? 'break-glass: granted without approval' : 'approved';
  return `approved by ${view.approvals.map((approval) => approval.by).join(', ')}`;
}

/**
 * One line for where a request stands, e.g. `pending: waiting for approval by bob@example.com`,
 * `active until 14:32 (15m)`, `denied by bob@example.com: "use the read-only role"`.
 */
export function describeStatus(view: RequestView): string {
  const decidedBy = view.decision ? ` by ${view.decision.by}${quoted(view.decision.comment)}` : '';
  switch (view.status) {
    case 'pending':
      return view.approvals.length > 0
        ? `pending: ${view.approvals.length} of ${view.approvalsRequired} approvals (${view.approvals.map((approval) => approval.by).join(', ')})`
        : `pending: waiting for approval by ${describeApprovers(view)}`;
    case 'approved':
      return view.startAt && !view.activeAt && Date.parse(view.startAt) > Date.now()
        ? `${describeApproval(view)}; starts at ${formatClock(view.startAt)}`
        : describeApproval(view);
    case 'provisioning':
      return `${describeApproval(view)}; provisioning and verifying propagation`;
    case 'active': {
      const extension = view.pendingExtension ? `; extension of ${view.pendingExtension.duration}${view.pendingExtension.id ? ` (${view.pendingExtension.id})` : ''} waiting for approval` : '';
      const review = view.breakGlass && !view.review ? '; break-glass, to be reviewed' : '';
      return `active until ${describeExpiry(view)} (${view.duration})${extension}${review}`;
    }
    case 'expired':
      return `expired${view.endedAt ? ` at ${formatClock(view.endedAt, { seconds: true })}` : ''}`;
    case 'relinquished':
      return `relinquished${decidedBy}`;
    case 'revoked':
      return `revoked${decidedBy}`;
    case 'denied':
      return `denied${decidedBy}`;
    case 'cancelled':
      return `cancelled${decidedBy}`;
    case 'timed_out':
      return 'timed out: nobody approved it in time';
    case 'failed':
      return `failed: ${view.error ?? 'no reason given'}`;
    default:
      // A status from a newer server: say it as it is.
      return String(view.status);
  }
}

const KNOWN_VIEW_FIELDS = new Set([
  'id', 'status', 'requester', 'provider', 'resource', 'level', 'kind', 'target', 'reason', 'duration', 'durationSeconds',
  'approvers', 'approvalsRequired', 'approvals', 'decision', 'createdAt', 'activeAt', 'expiresAt', 'endedAt', 'error',
  'policyVersion', 'breakGlass', 'review', 'startAt', 'pendingExtension', 'extensions', 'version',
]);

const note = (actor: { by: string; at: string; comment?: string } | undefined) =>
  actor ? `${actor.by} at ${formatTimestamp(actor.at)}${quoted(actor.comment)}` : undefined;

/** `p0 status` without --json: the request as a block of aligned fields. */
export function formatRequestDetails(view: RequestView): string {
  const needed = `${view.approvalsRequired} approval${view.approvalsRequired === 1 ? '' : 's'} needed`;
  const pending = view.pendingExtension;
  const extensions = (view.extensions ?? []).map(
    (extension) => `+${extension.duration} by ${extension.approvedBy.join(', ')} at ${formatTimestamp(extension.at)} (until ${formatTimestamp(extension.newExpiresAt)})`,
  );
  // Fields a newer server adds are shown as they come.
  const extra = Object.entries(view as unknown as Record<string, unknown>)
    .filter(([key, value]) => !KNOWN_VIEW_FIELDS.has(key) && value !== undefined && value !== null)
    .map(([key, value]): [string, string] => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
  return (
    `${view.id}  ${describeStatus(view)}\n` +
    formatFields([
      ['access', describeTarget(view)],
      ['catalog', view.resource && view.level ? `${view.provider}/${view.resource}/${view.level}` : undefined],
      ['requester', view.requester],
      ['reason', view.reason],
      ['duration', view.duration],
      ['approvers', `${view.approvers.join(', ')} (${needed})`],
      ['approved', view.approvals.length > 0 ? view.approvals.map(note).join('; ') : undefined],
      ['break-glass', view.breakGlass ? (view.review ? `reviewed by ${note(view.review)}` : 'yes, waiting for review') : undefined],
      ['decision', note(view.decision)],
      ['created', formatTimestamp(view.createdAt)],
      ['starts', formatTimestamp(view.startAt)],
      ['active', formatTimestamp(view.activeAt)],
      ['expires', formatTimestamp(view.expiresAt)],
      ['extension', pending ? `${pending.id ? `${pending.id}: ` : ''}+${pending.duration} asked at ${formatTimestamp(pending.requestedAt)}${quoted(pending.comment)}, waiting for approval` : undefined],
      ['extended', extensions.length > 0 ? extensions.join('; ') : undefined],
      ['ended', formatTimestamp(view.endedAt)],
      ['error', view.error],
      ['policy', view.policyVersion],
      ...extra,
    ])
  );
}

/** `p0 requests` without --json. */
export function formatRequestTable(views: RequestView[]): string {
  return formatTable(
    ['ID', 'STATUS', 'ACCESS', 'REQUESTER', 'DURATION', 'CREATED', 'ENDS'],
    views.map((view) => [
      view.id,
      view.status,
      describeTarget(view),
      view.requester,
      view.duration,
      formatTimestamp(view.createdAt) ?? '',
      formatTimestamp(view.endedAt ?? view.expiresAt) ?? '',
    ]),
  );
}

/** How a reconciler action reads to a person; one a newer server adds is shown as it comes. */
const RECONCILE_ACTIONS: Record<string, string> = {
  revoked: 'removed',
  reported: 'reported, left in place',
  revoke_failed: 'removal failed',
  reprovision_requested: 're-provisioning requested',
  reprovision_failed: 're-provisioning failed',
  'would revoke': 'would remove',
  'would report': 'would report, leave in place',
  'would re-provision': 'would re-provision',
};

export function describeReconcileAction(action: string): string {
  return RECONCILE_ACTIONS[action] ?? action;
}

/** `aws`, `aws and gcloud`, `aws, gcloud and k8s`. */
function listWords(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** `p0 reconcile` without --json: one line when all is well, else a table of findings and the errors. */
export function formatReconcileReport(report: ReconcileReport): string {
  const failing = [...new Set(report.errors.map((error) => error.provider))];
  const checked = report.providers.filter((provider) => !failing.includes(provider));
  const findings = [
    ...report.orphans.map((outcome) => ({ finding: 'orphan', ...outcome })),
    ...report.missing.map((outcome) => ({ finding: 'missing', ...outcome })),
  ];
  let text = '';
  if (findings.length === 0) {
    if (report.providers.length === 0) text += 'Nothing to reconcile: no provider is configured.\n';
    else if (checked.length > 0) text += `Nothing to reconcile: every grant at ${listWords(checked)} matches a request.\n`;
    else text += `Nothing found, but ${listWords(failing)} could not be checked.\n`;
  } else {
    const when = formatClock(report.checkedAt, { seconds: true });
    text += report.dryRun
      ? `Dry run (nothing changed): checked ${listWords(report.providers)} at ${when}\n`
      : `Checked ${listWords(report.providers)} at ${when} (run ${report.runId})\n`;
    const withError = findings.some((finding) => finding.error);
    text += formatTable(
      ['FINDING', 'PROVIDER', 'REQUEST', 'WHAT', 'ACTION', ...(withError ? ['ERROR'] : [])],
      findings.map((finding) => [
        finding.finding,
        finding.provider,
        finding.requestId,
        finding.description,
        describeReconcileAction(finding.action),
        ...(withError ? [finding.error ?? ''] : []),
      ]),
    );
    const groups: Array<[string, ReconcileOutcome[]]> = [
      ['orphan', report.orphans],
      ['missing grant', report.missing],
    ];
    const found = groups.filter(([, outcomes]) => outcomes.length > 0);
    if (report.dryRun) {
      text += `${found.map(([word, outcomes]) => plural(outcomes.length, word)).join(', ')}: run p0 reconcile without --dry-run to act on them.\n`;
    } else {
      // `2 orphans: 1 removed, 1 removal failed. 1 missing grant: 1 re-provisioning requested.`
      text += found
        .map(([word, outcomes]) => {
          const byAction = new Map<string, number>();
          for (const outcome of outcomes) byAction.set(describeReconcileAction(outcome.action), (byAction.get(describeReconcileAction(outcome.action)) ?? 0) + 1);
          return `${plural(outcomes.length, word)}: ${[...byAction].map(([action, count]) => `${count} ${action}`).join(', ')}.`;
        })
        .join(' ');
      text += '\n';
    }
  }
  if (report.errors.length > 0) {
    text += 'Could not check:\n';
    text += report.errors.map((error) => `  ${error.provider}: ${error.message}\n`).join('');
  }
  return text;
}

/** `p0 reconcile events` without --json. */
export function formatReconcileEvents(events: ReconcileEvent[]): string {
  const withError = events.some((event) => event.error);
  return formatTable(
    ['AT', 'FINDING', 'PROVIDER', 'REQUEST', 'WHAT', 'ACTION', 'RUN', ...(withError ? ['ERROR'] : [])],
    events.map((event) => [
      formatTimestamp(event.at) ?? '',
      event.finding,
      event.provider,
      event.requestId ?? '',
      event.description,
      describeReconcileAction(event.action),
      event.runId,
      ...(withError ? [event.error ?? ''] : []),
    ]),
  );
}
