/** What the API reads from query strings: booleans, and the filters of request listings. */
import type { Request } from 'express';
import { AppError } from '../service/errors';
import { invalidInput, listRequestsFilter, type ListRequestsFilter } from '../service/requestService';

/** The filters of `GET /v1/requests` (and of the audit trail), from the query string. */
export function listFilterOf(req: Request): ListRequestsFilter {
  const { status, requester, resource, from, to } = req.query;
  const parsed = listRequestsFilter.safeParse({
    mine: booleanQuery(req.query.mine, 'mine'),
    pendingApproval: booleanQuery(req.query.pendingApproval, 'pendingApproval'),
    // An empty field of a filter form means no filter.
    ...Object.fromEntries(Object.entries({ status, requester, resource, from, to }).filter(([, value]) => value !== '')),
  });
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data;
}

export function booleanQuery(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new AppError('bad_request', `${name}: must be true or false`);
}
