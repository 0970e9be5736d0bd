/**
 * The HTTP API's answers, route by route (api/openapi.ts describes the same for other clients): the
 * API sends them and the CLI reads them, both against these types.
 */
import type { CatalogEntry } from './catalog';
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

/** `POST /v1/reconcile` */
export interface ReconcileAnswer {
  report: ReconcileReport;
}

/** `GET /v1/reconcile/events` */
export interface ReconcileEventsAnswer {
  events: ReconcileEvent[];
}
