/** The catalog: what a caller may request, as `GET /v1/resources`, the chat pickers and `p0 ls` show it. */

/** One requestable access level, with the rules worth knowing before asking for it. */
export interface CatalogEntry {
  /** `provider/resource/level`, e.g. `aws/prod/admin`. */
  id: string;
  provider: string;
  resource: string;
  level: string;
  kind: string;
  target: string;
  description?: string;
  minDuration: string;
  maxDuration: string;
  defaultDuration: string;
  durationPresets: string[];
  approvalsRequired: number;
  requireReason: boolean;
  reasonPatternDescription?: string;
  breakGlass?: { maxDuration: string };
  readOnly: boolean;
  /** Whether active access may be extended (`POST /v1/requests/{id}/extend`)... */
  allowExtension: boolean;
  /** ...and the most a request may last in all, its extensions included. */
  maxLifetime: string;
  /** The resource's own description (an account, a project, a cluster). */
  resourceDescription?: string;
}
