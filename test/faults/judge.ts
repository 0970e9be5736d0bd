/**
 * How the fault suite judges what happened to each request, and the table it prints. Every verdict
 * is measured: from the request's view and audit trail, from samples of the provider taken while
 * the request was active, from the calls the provider saw (through the scenario's proxies), and from
 * when a component was down. Nothing here is written in by a scenario.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { AuditEvent } from '../../shared/events';
import type { RequestView } from '../../shared/request';
import type { FaultCall, FaultKind } from '../support/faultProxy';
import { applied, cut, GRANT, grantsAfterRemoval, REMOVAL } from './calls';

export const PROVIDERS = ['aws', 'gcloud', 'k8s'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
/** Where test/faults/holdingWorker.ts can stop a request (its header says what each means). */
export const HOLD_POINTS = ['lease', 'grant', 'verify', 'verified', 'revoke', 'compensation', 'extension'] as const;
export type HoldPoint = (typeof HOLD_POINTS)[number];
/** How a request must end. */
export type Route = 'expired' | 'relinquished' | 'failed';

/** One read of the provider while the request's view said `active`: `held` grants, read between `from` and `to`. */
export interface Sample {
  from: number;
  to: number;
  held: number;
}

/** A stretch of time while a component (a worker, the Temporal server, the database) was down. */
export interface Outage {
  from: number;
  to: number;
}

export interface Tracked {
  provider: ProviderName;
  id: string;
  requester: string;
  /** AWS: the requester's IAM user, and a client of the IAM it is in (straight, no faults). */
  userName?: string;
  iam?: IAMClient;
  level: string;
  expected: Route;
  /** Where the holding worker stops it (test/faults/holdingWorker.ts), if anywhere. */
  hold?: HoldPoint;
  /** Extended once while active (its audit trail says so). */
  extended?: boolean;
  /** When the test first asked to relinquish it, and every answer it got. */
  relinquish: { sentAt?: number; answers: Array<{ status: number; code?: string; message?: string }> };
  samples: Sample[];
  /** The latest view the test read. */
  view?: RequestView;
}

export interface RequestVerdict {
  request: Tracked;
  endedCorrectly: boolean;
  /** Samples that fell wholly inside the request's active time (where the product says the grant is there). */
  conclusiveSamples: number;
  /** Of those, the ones that found no grant at the provider. */
  emptySamples: number;
  /** The most grants the provider held for the request in one sample. */
  mostAtOnce: number;
  /** Grant calls the provider applied after it had applied the request's removal. */
  grantsAfterRemoval: number;
  orphan: boolean;
  trailComplete: boolean;
  lateness?: Lateness;
  problems: string[];
}

/**
 * Conclusive samples: read wholly after `activeAt` and before the end was due (expiry, or the
 * relinquish call): the product says the grant is there, so the provider must hold it.
 */
function conclusive(request: Tracked, view: RequestView | undefined): Sample[] {
  if (!view?.activeAt) return [];
  const activeAt = Date.parse(view.activeAt);
  const dueAt = dueAtOf(request, view);
  return request.samples.filter((sample) => sample.from >= activeAt && (dueAt === undefined || sample.to < dueAt));
}

/** When the request's end was due: its expiry, or the moment it was first asked to relinquish. */
function dueAtOf(request: Tracked, view: RequestView): number | undefined {
  if (request.expected === 'relinquished') return request.relinquish.sentAt;
  return view.expiresAt ? Date.parse(view.expiresAt) : undefined;
}

/** The trail each route must leave, numbered 1..n. */
function expectedTrail(request: Tracked): string[] {
  if (request.expected === 'failed') return ['requested', 'approved', 'provisioning', 'failed'];
  return ['requested', 'approved', 'provisioning', 'granted', 'active', ...(request.extended ? ['extension_requested', 'extended'] : []), request.expected];
}

/**
 * How late the removal's recorded end came, and from when that is counted:
 * - `on time`: no component was down; from when it was due;
 * - `due while down`: it fell due while a component was down; from when the component was back;
 * - `under way`: it was being made when the component went down, or it waited for a step the killed
 *   worker was holding (test/faults/holdingWorker.ts); from when the component was back, or when it
 *   was due if that was later.
 */
export interface Lateness {
  ms: number;
  counted: 'on time' | 'due while down' | 'under way';
}

export function latenessOf(request: Tracked, view: RequestView | undefined, outages: readonly Outage[]): Lateness | undefined {
  if (!view?.endedAt || request.expected === 'failed') return undefined;
  const dueAt = dueAtOf(request, view);
  if (dueAt === undefined) return undefined;
  const endedAt = Date.parse(view.endedAt);
  const lastOutage = outages.at(-1);
  if (request.hold && lastOutage) return { ms: endedAt - Math.max(dueAt, lastOutage.to), counted: 'under way' };
  for (const outage of outages) {
    if (dueAt >= outage.from && dueAt < outage.to) return { ms: endedAt - outage.to, counted: 'due while down' };
    if (dueAt < outage.from && endedAt > outage.from) return { ms: endedAt - outage.to, counted: 'under way' };
  }
  return { ms: endedAt - dueAt, counted: 'on time' };
}

export function judgeRequest(
  request: Tracked,
  evidence: { view: RequestView | undefined; events: AuditEvent[]; heldAtEnd: number; calls: readonly FaultCall[] | undefined; outages: readonly Outage[] },
): RequestVerdict {
  const { view, events, heldAtEnd, calls, outages } = evidence;
  const problems: string[] = [];
  const where = `${request.id} (${request.provider}${request.hold ? `, held at ${request.hold}` : ''})`;

  let endedCorrectly = view?.status === request.expected;
  if (!endedCorrectly) problems.push(`${where} ended ${view?.status ?? 'unknown'}, not ${request.expected}${view?.error ? `: ${view.error}` : ''}`);
  if (request.expected === 'relinquished') {
    if (view?.status === 'relinquished' && view.decision?.by !== request.requester) {
      endedCorrectly = false;
      problems.push(`${where} relinquished by ${view.decision?.by ?? 'nobody'}, not its requester`);
    }
    // A refusal counts only as the answer to a retry of a call whose first answer was lost.
    const refusals = request.relinquish.answers.filter((answer, index) => answer.status === 409 && !request.relinquish.answers.slice(0, index).some((earlier) => earlier.status === 0 || earlier.status >= 500));
    if (refusals.length > 0) {
      endedCorrectly = false;
      problems.push(`${where} relinquish refused: ${refusals.map((answer) => `${answer.status} ${answer.code}: ${answer.message}`).join('; ')}`);
    }
    if (!request.relinquish.answers.some((answer) => answer.status >= 200 && answer.status < 300 || answer.status === 409)) {
      endedCorrectly = false;
      problems.push(`${where} relinquish never answered: ${JSON.stringify(request.relinquish.answers)}`);
    }
  }

  const inside = conclusive(request, view);
  const emptySamples = inside.filter((sample) => sample.held === 0).length;
  if (view?.activeAt) {
    if (inside.length === 0) problems.push(`${where} was active but never sampled at the provider while it was (${request.samples.length} samples, none inside its active time)`);
    if (emptySamples > 0) problems.push(`${where} active, yet ${emptySamples} of ${inside.length} reads of the provider found no grant`);
  } else if (request.expected !== 'failed') {
    problems.push(`${where} never became active`);
  }
  const mostAtOnce = Math.max(0, ...request.samples.map((sample) => sample.held));
  const regrants = calls ? grantsAfterRemoval(calls, request.id).length : 0;
  if (mostAtOnce > 1) problems.push(`${where} held ${mostAtOnce} grants at once`);
  if (regrants > 0) problems.push(`${where} granted again ${regrants} time(s) after its removal was applied`);

  const orphan = heldAtEnd > 0;
  if (orphan) problems.push(`${where} still granted at the provider (${heldAtEnd})`);

  const seqs = events.map((event) => event.seq);
  const types = events.map((event) => event.type);
  const trailComplete = seqs.every((seq, index) => seq === index + 1) && types.join(',') === expectedTrail(request).join(',');
  if (!trailComplete) problems.push(`${where} audit trail: ${types.join(',')} seq ${seqs.join(',')}`);

  return {
    request,
    endedCorrectly,
    conclusiveSamples: inside.length,
    emptySamples,
    mostAtOnce,
    grantsAfterRemoval: regrants,
    orphan,
    trailComplete,
    lateness: latenessOf(request, view, outages),
    problems,
  };
}

/** Requests whose grant was in place through an outage, and requests whose removal fell due during one. */
export function acrossOutages(requests: readonly Tracked[], outages: readonly Outage[]): { activeThrough: Tracked[]; dueDuring: Tracked[] } {
  const activeThrough = requests.filter((request) => {
    const { activeAt, endedAt } = request.view ?? {};
    return activeAt !== undefined && outages.some((outage) => Date.parse(activeAt) < outage.from && (endedAt === undefined || Date.parse(endedAt) > outage.to));
  });
  const dueDuring = requests.filter((request) => {
    const dueAt = request.view && dueAtOf(request, request.view);
    return dueAt !== undefined && outages.some((outage) => dueAt >= outage.from && dueAt < outage.to);
  });
  return { activeThrough, dueDuring };
}

const FAULT_WORDS: Record<FaultKind, string> = { throttle: 'throttled', unavailable: 'unavailable', 'applied-lost': 'applied + reply lost' };

/** What landed on a set of calls: HTTP faults by kind, TCP cuts, as one phrase ("3 of 12: 1 throttled, 2 cut"). */
export function describeHits(calls: readonly FaultCall[]): { hits: number; text: string } {
  const parts: string[] = [];
  let hits = 0;
  for (const kind of Object.keys(FAULT_WORDS) as FaultKind[]) {
    const count = calls.filter((call) => call.fault === kind).length;
    hits += count;
    if (count > 0) parts.push(`${count} ${FAULT_WORDS[kind]}`);
  }
  const cuts = calls.filter(cut);
  if (cuts.length > 0) {
    hits += cuts.length;
    const appliedCuts = cuts.filter(applied).length;
    parts.push(`${cuts.length} cut${appliedCuts > 0 ? ` (${appliedCuts} after the provider applied them)` : ''}`);
  }
  return { hits, text: `${hits} of ${calls.length}${parts.length ? `: ${parts.join(', ')}` : ''}` };
}

export function grantCalls(calls: readonly FaultCall[]): FaultCall[] {
  return calls.filter((call) => call.purpose?.action === GRANT);
}

export function removalCalls(calls: readonly FaultCall[]): FaultCall[] {
  return calls.filter((call) => call.purpose?.action === REMOVAL);
}

export interface Row {
  scenario: string;
  provider: ProviderName;
  /** Every call the provider saw through the proxy, and the faults among them (or what else was done). */
  faults: string;
  onGrants: string;
  onRemovals: string;
  /** Grants in place through an outage, and removals that fell due during one (outage scenarios). */
  whileDown: string;
  requests: number;
  endedBy: string;
  endedCorrectly: number;
  seenGranted: string;
  orphans: number;
  doubleGrants: number;
  auditGaps: number;
  latestEnd: string;
  notes: string;
}

/** One row per provider from the verdicts on its requests. */
export function rowFor(scenario: string, provider: ProviderName, verdicts: readonly RequestVerdict[], described: Pick<Row, 'faults' | 'onGrants' | 'onRemovals' | 'whileDown'>): Row {
  const routes = new Map<string, number>();
  for (const { request } of verdicts) routes.set(request.view?.status ?? 'unknown', (routes.get(request.view?.status ?? 'unknown') ?? 0) + 1);
  const everActive = verdicts.filter((verdict) => verdict.request.view?.activeAt);
  const lateness = verdicts.map((verdict) => verdict.lateness?.ms).filter((ms): ms is number => ms !== undefined);
  return {
    scenario,
    provider,
    ...described,
    requests: verdicts.length,
    endedBy: [...routes].map(([route, count]) => `${count} ${route}`).join(', '),
    endedCorrectly: verdicts.filter((verdict) => verdict.endedCorrectly).length,
    seenGranted: `${everActive.filter((verdict) => verdict.conclusiveSamples > 0 && verdict.emptySamples === 0).length} of ${everActive.length}`,
    orphans: verdicts.filter((verdict) => verdict.orphan).length,
    doubleGrants: verdicts.filter((verdict) => verdict.mostAtOnce > 1 || verdict.grantsAfterRemoval > 0).length,
    auditGaps: verdicts.filter((verdict) => !verdict.trailComplete).length,
    latestEnd: lateness.length ? `${(Math.max(...lateness) / 1000).toFixed(1)} s` : '-',
    notes: verdicts.flatMap((verdict) => verdict.problems).join('; '),
  };
}

export const TABLE_HEADER =
  '| scenario | provider | faults that landed (all calls) | on grants | on removals | while down: grants in place, removals due | requests | ended by | ended correctly | seen granted while active | orphans | double grants | audit gaps | latest end after due |';

export function resultTable(rows: readonly Row[]): string {
  const lines = rows.map((row) =>
    [row.scenario, row.provider, row.faults, row.onGrants, row.onRemovals, row.whileDown, row.requests, row.endedBy, row.endedCorrectly, row.seenGranted, row.orphans, row.doubleGrants, row.auditGaps, row.latestEnd].join(' | '),
  );
  const notes = rows.filter((row) => row.notes).map((row) => `- ${row.scenario} / ${row.provider}: ${row.notes}`);
  return [TABLE_HEADER, `|${'---|'.repeat(14)}`, ...lines.map((line) => `| ${line} |`), ...(notes.length ? ['', ...notes] : [])].join('\n');
}
