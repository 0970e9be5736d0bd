/**
 * Audit trails over HTTP: one request's (`GET /v1/requests/{id}/events`, for whoever may see the
 * request) and every request's (`GET /v1/audit`, admins), the latter also as CSV for a spreadsheet.
 */
import express from 'express';
import type { Caller } from '../service/policy';
import type { RequestService } from '../service/requestService';
import type { AuditAnswer, AuditEventsAnswer } from '../shared/api';
import type { AuditEvent } from '../shared/events';
import type { RequestView } from '../shared/request';
import { listFilterOf } from './query';

export function createAuditRouter({ service }: { service: RequestService }): express.Router {
  const router = express.Router();

  router.get('/v1/requests/:id/events', async (req, res) => {
    res.json({ events: await service.events(res.locals.caller as Caller, req.params.id) } satisfies AuditEventsAnswer);
  });

  router.get('/v1/audit', async (req, res) => {
    const filter = listFilterOf(req);
    const trail = await service.auditTrail(res.locals.caller as Caller, filter);
    if (req.query.format !== 'csv') {
      res.json(trail satisfies AuditAnswer);
      return;
    }
    res.setHeader('content-disposition', `attachment; filename="p0-audit-${new Date().toISOString().slice(0, 10)}.csv"`);
    res.setHeader('cache-control', 'no-store');
    res.type('text/csv; charset=utf-8').send(auditCsv(trail.requests, trail.events));
  });

  return router;
}

const CSV_COLUMNS = ['at', 'request', 'event', 'actor', 'requester', 'provider', 'resource', 'level', 'kind', 'target', 'status', 'reason', 'details'] as const;

/** One line per audit event, with its request's fields beside it; newest first. */
export function auditCsv(requests: readonly RequestView[], events: readonly AuditEvent[]): string {
  const byId = new Map(requests.map((view) => [view.id, view]));
  const lines = [CSV_COLUMNS.join(',')];
  for (const event of events) {
    const view = byId.get(event.requestId);
    const row: Record<(typeof CSV_COLUMNS)[number], string> = {
      at: event.at,
      request: event.requestId,
      event: event.type,
      actor: event.actor,
      requester: view?.requester ?? '',
      provider: view?.provider ?? '',
      resource: view?.resource ?? '',
      level: view?.level ?? '',
      kind: view?.kind ?? '',
      target: view?.target ?? '',
      status: view?.status ?? '',
      reason: view?.reason ?? '',
      details: event.details === undefined ? '' : JSON.stringify(event.details),
    };
    lines.push(CSV_COLUMNS.map((column) => csvCell(row[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * RFC 4180 quoting, and text people typed (reasons, comments) that a spreadsheet would run as a
 * formula (`=`, `+`, `-`, `@`, tab, carriage return first) is prefixed with `'`.
 */
function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
