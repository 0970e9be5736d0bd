/**
 * The HTTP API's answers, route by route (api/openapi.ts describes the same for other clients): the
 * API sends them and the CLI reads them, both against these types.
 */
import type { CatalogEntry } from './catalog';
import type { AuditEvent, AuditEventType } from './events';
import type { ReconcileEvent, ReconcileReport } from './reconcile';
import type { RequestView } from './request';

/** `GET /v1/me` */
export interface MeAnswer {
  user: { email: string; admin: boolean };
}

/** `GET /v1/resources` */
export interface CatalogAnswer {
  resources: CatalogEntry[];
}

/** `POST /v1/requests`, `GET /v1/requests/{id}` and every action on a request. */
export interface RequestAnswer {
  request: RequestView;
}

/** `GET /v1/requests` */
export interface RequestListAnswer {
  requests: RequestView[];
}

/** `GET /v1/requests/{id}/events`: the request's audit trail, in order. */
export interface AuditEventsAnswer {
  events: AuditEvent[];
}

/** `GET /v1/audit` (admins): the requests the filters select, and all their events, newest first. */
export interface AuditAnswer {
  requests: RequestView[];
  events: AuditEvent[];
}

/** The data of an `event: request` message on `GET /v1/events`: what changed, and the request now. */
export interface RequestChangeMessage {
  type: AuditEventType;
  request: RequestView;
}

/** `GET /auth/session`: the signed-in person and the CSRF token their calls send. */
export interface SessionAnswer {
  user: { email: string };
  csrfToken: string;
}

/** `POST /v1/reconcile` */
export interface ReconcileAnswer {
  report: ReconcileReport;
}

/** `GET /v1/reconcile/events` */
export interface ReconcileEventsAnswer {
  events: ReconcileEvent[];
}

/** One live API token as `GET /v1/tokens` shows it (never the token itself). */
export interface TokenEntry {
  id: number;
  email: string;
  admin: boolean;
  /** What it is for: "p0 login", "p0 login --device", "npm run token"... */
  label: string | null;
  createdAt: string;
  /** Null: never expires (automation tokens from `npm run token`). */
  expiresAt: string | null;
  /** The token this call was made with. */
  current: boolean;
}

/** `GET /v1/tokens` */
export interface TokenListAnswer {
  tokens: TokenEntry[];
}

/** `DELETE /v1/tokens/{id}` */
export interface TokenRevokedAnswer {
  revoked: { id: number };
}

/** `POST /auth/device`: what `p0 login --device` shows and polls with. */
export interface DeviceStartAnswer {
  deviceCode: string;
  userCode: string;
  verificationUrl: string;
  expiresIn: number;
  interval: number;
}

/** `POST /auth/device/token` once the person approved (202 `{status: 'pending'}` until then). */
export interface DeviceTokenAnswer {
  token: string;
  email: string;
}
