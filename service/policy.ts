/**
 * The access policy, evaluated purely: config in, decision out. The only place rules live. The
 * request service asks it for every decision (what exists, who may request, which approvers and how
 * many, auto-approval, break-glass, durations, reasons, extensions) and hands the workflow the
 * result, so every channel obeys the same rules and a running request keeps the ones it was
 * approved under.
 */
import type { AutoApprovalRule, LevelConfig, P0Config } from '../config/schema';
import type { CatalogEntry } from '../shared/catalog';
import { AppError, RESOURCE_NOT_FOUND_MESSAGE } from './errors';
import { DurationFormatError, formatDuration, parseDurationMs } from '../shared/duration';

export interface Caller {
  email: string;
  /** Admin by token (`npm run token -- <email> --admin`) or by the config's `admins` list. */
  admin: boolean;
}

/** One requestable thing: provider -> resource -> level, and the grant it stands for. */
export interface AccessLevel extends LevelConfig {
  /** `provider/resource/level`, e.g. `aws/prod/admin`. */
  id: string;
  provider: string;
  resource: string;
  level: string;
  /** Provider-specific fields of the resource and the level (e.g. an account id, a project, a namespace). */
  scope: Record<string, string>;
  /** The catalog resource's own description (an account, a project, a cluster). */
  resourceDescription?: string;
}

/** The compiled policy: the config plus everything derived from it once. */
export interface Policy {
  config: P0Config;
  /** Identifies the config text the policy came from; recorded on every request. */
  version: string;
  levels: AccessLevel[];
}

/** How a request names what it wants: by grant (`aws role AdminRole`) or by catalog position. */
export interface LevelRef {
  provider: string;
  kind?: string;
  target?: string;
  resource?: string;
  level?: string;
  /** Picks among levels by their namespace (Kubernetes), like `p0 request k8s role pod-reader --namespace prod`. */
  namespace?: string;
}

/** Everything the workflow needs to run a request under today's rules. */
export interface RequestDecision {
  duration: string;
  durationSeconds: number;
  approvers: string[];
  approvalsRequired: number;
  allowSelfApproval: boolean;
  approvalTimeoutSeconds: number;
  /** Set when an auto-approval rule approves it: the rule's name. */
  autoApprovedBy?: string;
  breakGlass: boolean;
  extension: { allowed: boolean; minSeconds: number; maxSeconds: number };
  /** The request's total lifetime, its duration plus every extension, may not pass this. */
  maxLifetimeSeconds: number;
}

export interface RequestAsk {
  duration?: string;
  reason: string;
  breakGlass?: boolean;
  /** A scheduled start: auto-approval's business hours are judged then, when access would begin. */
  startAt?: Date;
}

/** What the request store knows of the requester, for the rules that count past requests. */
export interface RequesterStanding {
  /** Their break-glass requests still waiting for an approver's review (active or ended). */
  unreviewedBreakGlass: number;
}

const DEFAULT_RESOURCE = 'default';
/** The default when a level names none: 1 h, within the level's bounds. */
const FALLBACK_DURATION_MS = 3_600_000;

export function compilePolicy(config: P0Config, version: string): Policy {
  const levels: AccessLevel[] = [];
  for (const [provider, resources] of Object.entries(config.catalog)) {
    for (const { resource, description: resourceDescription, levels: resourceLevels, ...resourceScope } of resources) {
      for (const { level, ...rules } of resourceLevels) {
        const scope = { ...stringsOf(resourceScope), ...pickScope(rules) };
        levels.push({ ...rules, id: `${provider}/${resource}/${level}`, provider, resource, level, scope, ...(resourceDescription === undefined ? {} : { resourceDescription }) });
      }
    }
  }
  for (const { provider, ...rules } of config.resources) {
    const level = `${rules.kind}-${rules.target}`.replace(/[^A-Za-z0-9._-]/g, '_');
    levels.push({ ...rules, id: `${provider}/${DEFAULT_RESOURCE}/${level}`, provider, resource: DEFAULT_RESOURCE, level, scope: {} });
  }
  return { config, version, levels };
}

/** Fields every level has; anything else on a level is provider-specific scope. */
const SHARED_LEVEL_FIELDS = new Set<string>([
  'kind', 'target', 'description', 'approvers', 'approvals', 'allowSelfApproval', 'requesters', 'minDuration', 'maxDuration',
  'defaultDuration', 'durationPresets', 'requireReason', 'reasonPattern', 'reasonPatternDescription', 'approvalTimeout',
  'readOnly', 'breakGlass', 'allowExtension', 'maxLifetime',
]);

function pickScope(rules: object): Record<string, string> {
  return stringsOf(Object.fromEntries(Object.entries(rules).filter(([key]) => !SHARED_LEVEL_FIELDS.has(key))));
}

function stringsOf(fields: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined).map(([key, value]) => [key, String(value)]));
}

/** Directory groups the person belongs to (config today; an IdP behind the same call later). */
export function groupsOf(policy: Policy, email: string): string[] {
  return Object.entries(policy.config.groups)
    .filter(([, members]) => members.includes(email))
    .map(([group]) => group);
}

export function isAdmin(policy: Policy, caller: Caller): boolean {
  return caller.admin || policy.config.admins.includes(caller.email);
}

export function mayRequest(policy: Policy, email: string, level: AccessLevel): boolean {
  if (!level.requesters) return true;
  if (level.requesters.users.includes(email)) return true;
  const groups = groupsOf(policy, email);
  return level.requesters.groups.some((group) => groups.includes(group));
}

export function visibleLevels(policy: Policy, email: string): AccessLevel[] {
  return policy.levels.filter((level) => mayRequest(policy, email, level));
}

/**
 * The level a request names. Anything not in the catalog, or not visible to the requester, is the
 * quickstart's "This resource doesn't exist": a person never learns what they may not request.
 */
export function findLevel(policy: Policy, email: string, ref: LevelRef): AccessLevel {
  const candidates = visibleLevels(policy, email).filter(
    (level) =>
      level.provider === ref.provider &&
      (ref.kind === undefined || level.kind === ref.kind) &&
      (ref.target === undefined || level.target === ref.target) &&
      (ref.resource === undefined || level.resource === ref.resource) &&
      (ref.level === undefined || level.level === ref.level) &&
      (ref.namespace === undefined || level.scope.namespace === ref.namespace),
  );
  if (candidates.length === 0 || (ref.level === undefined && (ref.kind === undefined || ref.target === undefined))) {
    throw new AppError('not_found', RESOURCE_NOT_FOUND_MESSAGE);
  }
  if (candidates.length > 1) {
    const resources = [...new Set(candidates.map((level) => level.resource))].join(', ');
    const what = ref.kind !== undefined && ref.target !== undefined ? `${ref.kind} ${ref.target}` : `level ${ref.level}`;
    throw new AppError('bad_request', `${what} is offered in several resources (${resources}): name one (resource / --account)`);
  }
  return candidates[0]!;
}

export function catalogFor(policy: Policy, email: string): CatalogEntry[] {
  return visibleLevels(policy, email).map((level) => ({
    id: level.id,
    provider: level.provider,
    resource: level.resource,
    level: level.level,
    kind: level.kind,
    target: level.target,
    description: level.description,
    minDuration: formatMs(level.minDuration),
    maxDuration: formatMs(level.maxDuration),
    defaultDuration: formatMs(defaultDurationMs(level)),
    durationPresets: (level.durationPresets ?? []).map(formatMs),
    approvalsRequired: level.approvals,
    requireReason: level.requireReason,
    reasonPatternDescription: level.reasonPattern ? (level.reasonPatternDescription ?? `text matching ${level.reasonPattern}`) : undefined,
    breakGlass: level.breakGlass ? { maxDuration: formatMs(level.breakGlass.maxDuration) } : undefined,
    readOnly: level.readOnly,
    allowExtension: level.allowExtension,
    maxLifetime: formatMs(maxLifetimeMs(level)),
    resourceDescription: level.resourceDescription,
  }));
}

/**
 * Applies every rule to a new request; throws AppError naming the first rule it breaks (400; 409
 * for the break-glass limit, which depends on the requester's other requests).
 */
export function decideRequest(
  policy: Policy,
  caller: Caller,
  level: AccessLevel,
  ask: RequestAsk,
  now: Date,
  standing: RequesterStanding,
): RequestDecision {
  checkReason(level, ask.reason);
  const breakGlass = ask.breakGlass === true;
  if (breakGlass) checkBreakGlass(policy, level, ask.reason, standing);
  const maxMs = breakGlass ? Math.min(level.breakGlass!.maxDuration, level.maxDuration) : level.maxDuration;
  const durationMs = resolveDurationMs(level, ask.duration, maxMs);
  // Access begins at a scheduled start (one in the past starts now): business hours are judged then.
  const startsAt = ask.startAt !== undefined && ask.startAt.getTime() > now.getTime() ? ask.startAt : now;
  const rule = breakGlass ? undefined : matchAutoApproval(policy, caller.email, level, durationMs, startsAt);
  return {
    duration: formatMs(durationMs),
    durationSeconds: durationMs / 1000,
    approvers: approversFor(policy, level),
    approvalsRequired: level.approvals,
    allowSelfApproval: level.allowSelfApproval,
    approvalTimeoutSeconds: Math.round((level.approvalTimeout ?? policy.config.approvalTimeout) / 1000),
    autoApprovedBy: rule?.name,
    breakGlass,
    extension: { allowed: level.allowExtension, minSeconds: level.minDuration / 1000, maxSeconds: level.maxDuration / 1000 },
    maxLifetimeSeconds: maxLifetimeMs(level) / 1000,
  };
}

/** Break-glass skips the approvers, so it must say why, and one person cannot chain it unreviewed. */
function checkBreakGlass(policy: Policy, level: AccessLevel, reason: string, standing: RequesterStanding): void {
  if (!level.breakGlass) throw new AppError('bad_request', `breakGlass: ${level.id} does not allow break-glass access`);
  if (reason.trim() === '') throw new AppError('bad_request', `reason: break-glass access to ${level.id} needs a reason: say what is broken`);
  const limit = policy.config.maxUnreviewedBreakGlass;
  const open = standing.unreviewedBreakGlass;
  if (open >= limit) {
    const requests = open === 1 ? 'request' : 'requests';
    throw new AppError(
      'conflict',
      `breakGlass: you have ${open} break-glass ${requests} not yet reviewed (at most ${limit} per person): an approver must review ${open === 1 ? 'it' : 'them'} first`,
    );
  }
}

/** The longest a request may last in all, its extensions included: `maxLifetime`, else `maxDuration`. */
export function maxLifetimeMs(level: AccessLevel): number {
  return level.maxLifetime ?? level.maxDuration;
}

/**
 * An extension of an active grant: same duration bounds, within the level's total lifetime (409
 * past it, saying what is left); auto-approved when a rule covers it now.
 * @param options.grantedSeconds what the request has had so far: its duration plus its extensions.
 */
export function decideExtension(
  policy: Policy,
  requester: string,
  level: AccessLevel | undefined,
  durationText: string,
  now: Date,
  options: { breakGlass?: boolean; grantedSeconds?: number } = {},
): { duration: string; durationSeconds: number; autoApprovedBy?: string } {
  if (!level) throw new AppError('conflict', 'This access is no longer in the catalog: it cannot be extended');
  if (!mayRequest(policy, requester, level)) throw new AppError('conflict', 'This access is no longer offered to you: it cannot be extended');
  if (!level.allowExtension) throw new AppError('conflict', `${level.id} does not allow extensions`);
  // Break-glass stays capped at its own maximum, and only a human extends it.
  const maxMs = options.breakGlass && level.breakGlass ? Math.min(level.breakGlass.maxDuration, level.maxDuration) : level.maxDuration;
  const durationMs = resolveDurationMs(level, durationText, maxMs);
  // Each extension within the bounds is not enough: auto-approved ones would add up without end.
  const grantedMs = (options.grantedSeconds ?? 0) * 1000;
  const lifetimeMs = maxLifetimeMs(level);
  if (grantedMs + durationMs > lifetimeMs) {
    const leftMs = Math.max(0, lifetimeMs - grantedMs);
    throw new AppError(
      'conflict',
      `duration: an extension of ${formatMs(durationMs)} would make this access last ${formatMs(grantedMs + durationMs)} in all, past the maximum lifetime of ${formatMs(lifetimeMs)} of ${level.id} (${leftMs === 0 ? 'nothing left: request it anew' : `${formatMs(leftMs)} left`})`,
    );
  }
  const rule = options.breakGlass ? undefined : matchAutoApproval(policy, requester, level, durationMs, now);
  return { duration: formatMs(durationMs), durationSeconds: durationMs / 1000, autoApprovedBy: rule?.name };
}

/** Distinct approver emails from the level's approver groups. */
export function approversFor(policy: Policy, level: AccessLevel): string[] {
  return [...new Set(level.approvers.flatMap((group) => policy.config.approvers[group] ?? []))];
}

/** The first auto-approval rule whose every condition holds. */
export function matchAutoApproval(policy: Policy, email: string, level: AccessLevel, durationMs: number, now: Date): AutoApprovalRule | undefined {
  const groups = groupsOf(policy, email);
  return policy.config.autoApproval.find(
    (rule) =>
      (rule.requesterGroups === undefined || rule.requesterGroups.some((group) => groups.includes(group))) &&
      (!rule.readOnly || level.readOnly) &&
      (rule.maxDuration === undefined || durationMs <= rule.maxDuration) &&
      (rule.levels === undefined || rule.levels.some((pattern) => globMatches(pattern, level.id))) &&
      (rule.businessHours === undefined || withinBusinessHours(rule.businessHours, now)),
  );
}

export function withinBusinessHours(hours: NonNullable<AutoApprovalRule['businessHours']>, now: Date): boolean {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: hours.timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const part = (type: string) => parts.find((candidate) => candidate.type === type)?.value ?? '';
  const weekday = part('weekday').toLowerCase().slice(0, 3);
  const time = `${part('hour')}:${part('minute')}`;
  const days = hours.days as string[];
  if (hours.from <= hours.to) return days.includes(weekday) && time >= hours.from && time < hours.to;
  // A window like 22:00-06:00 runs past midnight: its early hours belong to the day it started on.
  if (time >= hours.from) return days.includes(weekday);
  if (time < hours.to) return days.includes(PREVIOUS_DAY[weekday] ?? '');
  return false;
}

const PREVIOUS_DAY: Record<string, string> = { mon: 'sun', tue: 'mon', wed: 'tue', thu: 'wed', fri: 'thu', sat: 'fri', sun: 'sat' };

function checkReason(level: AccessLevel, reason: string): void {
  if (level.requireReason && reason.trim() === '') {
    throw new AppError('bad_request', `reason: ${level.id} requires a reason${level.reasonPatternDescription ? ` (${level.reasonPatternDescription})` : ''}`);
  }
  if (level.reasonPattern && (reason.trim() !== '' || level.requireReason) && !new RegExp(level.reasonPattern).test(reason)) {
    const expected = level.reasonPatternDescription ?? `text matching ${level.reasonPattern}`;
    throw new AppError('bad_request', `reason: "${reason}" does not contain ${expected}`);
  }
}

function resolveDurationMs(level: AccessLevel, requested: string | undefined, maxMs: number): number {
  let ms: number;
  if (requested === undefined || requested === '') {
    ms = Math.min(defaultDurationMs(level), maxMs);
  } else {
    try {
      ms = parseDurationMs(requested);
    } catch (error) {
      if (error instanceof DurationFormatError) throw new AppError('bad_request', `duration: ${error.message}`);
      throw error;
    }
  }
  if (ms < level.minDuration || ms > maxMs) {
    throw new AppError(
      'bad_request',
      `duration: ${formatMs(ms)} is outside what ${level.id} allows (${formatMs(level.minDuration)} to ${formatMs(maxMs)})`,
    );
  }
  if (ms % 1000 !== 0) throw new AppError('bad_request', 'duration: use whole seconds (s, m, h or d)');
  return ms;
}

function defaultDurationMs(level: AccessLevel): number {
  if (level.defaultDuration !== undefined) return level.defaultDuration;
  return Math.min(Math.max(FALLBACK_DURATION_MS, level.minDuration), level.maxDuration);
}

function globMatches(pattern: string, id: string): boolean {
  const escaped = pattern.split('*').map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(id);
}

function formatMs(ms: number): string {
  return formatDuration(Math.round(ms / 1000));
}
