/**
 * The access policy, evaluated purely: config in, decision out. The only place rules live; the
 * request service asks it, and the workflow enforces what it decided (approver list, quorum).
 */
import type { P0Config, ResourceConfig } from '../config/schema';
import { AppError, RESOURCE_NOT_FOUND_MESSAGE } from './errors';
import { DurationFormatError, formatDuration, parseDurationMs } from './duration';

export interface ResourceRef {
  provider: string;
  kind: string;
  target: string;
}

export interface Caller {
  email: string;
  /** Admin by token (`npm run token -- <email> --admin`) or by the config's `admins` list. */
  admin: boolean;
}

/** What a caller may request, as the API's `GET /v1/resources` and the channels' pickers show it. */
export interface CatalogEntry extends ResourceRef {
  description?: string;
  minDuration: string;
  maxDuration: string;
  defaultDuration: string;
  approvalsRequired: number;
}

/** The default when a request names no duration: the level's own default, else 1 h within its bounds. */
const FALLBACK_DURATION_MS = 3_600_000;

export function findResource(config: P0Config, ref: ResourceRef): ResourceConfig {
  const resource = config.resources.find(
    (candidate) => candidate.provider === ref.provider && candidate.kind === ref.kind && candidate.target === ref.target,
  );
  if (!resource) throw new AppError('not_found', RESOURCE_NOT_FOUND_MESSAGE);
  return resource;
}

export function catalogFor(config: P0Config): CatalogEntry[] {
  return config.resources.map((resource) => ({
    provider: resource.provider,
    kind: resource.kind,
    target: resource.target,
    description: resource.description,
    minDuration: formatMs(resource.minDuration),
    maxDuration: formatMs(resource.maxDuration),
    defaultDuration: formatMs(defaultDurationMs(resource)),
    approvalsRequired: resource.approvals,
  }));
}

/** Distinct approver emails from the resource's approver groups. */
export function approversFor(config: P0Config, resource: ResourceConfig): string[] {
  return [...new Set(resource.approvers.flatMap((group) => config.approvers[group] ?? []))];
}

/** Parses and bounds a requested duration; returns whole seconds. */
export function resolveDuration(resource: ResourceConfig, requested: string | undefined): { duration: string; seconds: number } {
  let ms: number;
  if (requested === undefined || requested === '') {
    ms = defaultDurationMs(resource);
  } else {
    try {
      ms = parseDurationMs(requested);
    } catch (error) {
      if (error instanceof DurationFormatError) throw new AppError('bad_request', `duration: ${error.message}`);
      throw error;
    }
    if (ms % 1000 !== 0) throw new AppError('bad_request', 'duration: use whole seconds (s, m, h or d)');
  }
  if (ms < resource.minDuration || ms > resource.maxDuration) {
    throw new AppError(
      'bad_request',
      `duration: ${formatMs(ms)} is outside what this resource allows (${formatMs(resource.minDuration)} to ${formatMs(resource.maxDuration)})`,
    );
  }
  return { duration: formatMs(ms), seconds: ms / 1000 };
}

export function isAdmin(config: P0Config, caller: Caller): boolean {
  return caller.admin || config.admins.includes(caller.email);
}

function defaultDurationMs(resource: ResourceConfig): number {
  if (resource.defaultDuration !== undefined) return resource.defaultDuration;
  return Math.min(Math.max(FALLBACK_DURATION_MS, resource.minDuration), resource.maxDuration);
}

function formatMs(ms: number): string {
  return formatDuration(Math.round(ms / 1000));
}
