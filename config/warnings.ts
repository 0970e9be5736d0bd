/**
 * Settings that are valid but probably not what was meant: logged as warnings when the config is
 * loaded or reloaded (service/runtime.ts watchPolicy), never refused.
 */
import type { P0Config } from './schema';

export function configWarnings(config: P0Config): string[] {
  const warnings: string[] = [];
  const localPartWarning = sharedLocalPartWarning(config);
  if (localPartWarning) warnings.push(localPartWarning);
  return warnings;
}

/**
 * `k8s.subject.from: local-part` names the RBAC subject after the part of the email before the `@`:
 * with users in several domains, alice@a.com and alice@b.com would be the same subject, each holding
 * the other's grants. Every email the config names (groups, approvers, admins, requesters) counts.
 */
function sharedLocalPartWarning(config: P0Config): string | undefined {
  if (config.k8s.subject.from !== 'local-part' || config.catalog.k8s.length === 0) return undefined;
  const emails = new Set(
    [
      ...Object.values(config.groups).flat(),
      ...Object.values(config.approvers).flat(),
      ...config.admins,
      ...[...config.catalog.aws, ...config.catalog.gcloud, ...config.catalog.k8s].flatMap((resource) => resource.levels.flatMap((level) => level.requesters?.users ?? [])),
      ...config.resources.flatMap((resource) => resource.requesters?.users ?? []),
    ].map((email) => email.toLowerCase()),
  );
  const domains = new Set([...emails].map((email) => email.slice(email.lastIndexOf('@') + 1)));
  if (domains.size < 2) return undefined;
  const byLocalPart = new Map<string, string[]>();
  for (const email of [...emails].sort()) {
    const localPart = email.slice(0, email.lastIndexOf('@'));
    byLocalPart.set(localPart, [...(byLocalPart.get(localPart) ?? []), email]);
  }
  const shared = [...byLocalPart].filter(([, owners]) => owners.length > 1).map(([localPart, owners]) => `"${localPart}" is ${owners.join(' and ')}`);
  return (
    `k8s.subject.from is local-part, but the config names users in several email domains (${[...domains].sort().join(', ')}): ` +
    `people with the same name before the @ in different domains get the same Kubernetes subject, and so each other's access` +
    (shared.length > 0 ? ` (already: ${shared.join('; ')})` : '') +
    '. Use subject.from: email, or keep the users to one domain'
  );
}
