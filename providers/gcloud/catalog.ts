/**
 * What a Google Cloud catalog entry may say, shared by the config schema (checked at load) and the
 * provider (checked again per request, since a project can default to the catalog resource's name).
 * Kept free of the client libraries so loading the config does not load them.
 */

/** `gcloud role <role>`: a conditional project IAM binding. */
export const GCLOUD_GRANT_KINDS = ['role'] as const;

/** The IAM principal prefix the requester's email is bound as (`user:alice@example.com`). */
export const GCLOUD_PRINCIPAL_TYPES = ['user', 'serviceAccount', 'group'] as const;
export type GcloudPrincipalType = (typeof GCLOUD_PRINCIPAL_TYPES)[number];

/**
 * A project id (6-30 characters: lowercase letters, digits and hyphens, starting with a letter, not
 * ending with a hyphen) or a project number, the two forms `projects/<x>` accepts.
 */
export const PROJECT_PATTERN = /^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\d{1,20})$/;

/** The project a catalog resource grants on: its `project`, else the resource's name. */
export function projectOf({ resource, project }: { resource: string; project?: string }): string {
  return project ?? resource;
}

/** A predefined role (`roles/bigquery.admin`) or a project or organization custom role. */
export const ROLE_PATTERN = /^(?:roles|projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/roles|organizations\/\d+\/roles)\/[A-Za-z0-9_.]{1,64}$/;
