/**
 * The one RBAC binding a request creates: `p0-<requestId>`, a RoleBinding in a namespace or a
 * ClusterRoleBinding cluster-wide, binding the requester's subject to the level's role. Labelled as
 * ours with the request id, so a reconciler (or `kubectl get rolebindings -A -l
 * app.kubernetes.io/managed-by=p0-jit`) finds every binding the product holds. One binding per request:
 * overlapping requests never cut each other short, and bindings the user already had are never
 * touched.
 */
import { createHash } from 'node:crypto';
import type { V1RoleBinding } from '@kubernetes/client-node';
import type { MarkedGrant } from '../provider';
import type { K8sSubjectKind, K8sSubjectNameSource } from './catalog';

export const RBAC_API_GROUP = 'rbac.authorization.k8s.io';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'p0-jit';
export const REQUEST_ID_LABEL = 'p0.dev/request-id';
/** The exact request id (the label holds it too when it is a valid label value). */
export const REQUEST_ID_ANNOTATION = 'p0.dev/request-id';
export const REQUESTER_ANNOTATION = 'p0.dev/requester';
/** When the request's access ends. Informational: Kubernetes has no expiring bindings, the workflow's timer revokes. */
export const NOT_AFTER_ANNOTATION = 'p0.dev/not-after';
/** The label selector that finds every binding the product holds. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** A DNS-1123 label, the strictest name rule Kubernetes has (63 characters). */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Label values: at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

export interface SubjectMapping {
  kind: K8sSubjectKind;
  /** Prepended to the name, for clusters whose OIDC usernames are prefixed (`oidc:`). */
  prefix: string;
  /** `email` (alice@example.com) or `local-part` (alice). */
  from: K8sSubjectNameSource;
}

export interface BindingSubject {
  kind: K8sSubjectKind;
  name: string;
}

/** What the binding must say; `namespace` undefined means a ClusterRoleBinding. */
export interface BindingPlan {
  name: string;
  namespace: string | undefined;
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string };
  subject: BindingSubject;
}

/** Request ids as the product makes them: `req_` and a ULID (26 uppercase letters and digits). */
const PLAIN_REQUEST_ID = /^(?:[a-z][a-z0-9]*_)?[0-9A-Z]+$/;

/**
 * `p0-<requestId>` as a DNS-1123 label: `req_01JQ...` becomes `p0-req-01jq...`, which is still unique
 * (only the lowercase prefix was lowercase, and only its one `_` changed). Any other id gets a
 * readable part and a hash of the exact id, so the name stays valid, unique and deterministic (every
 * retry and extension finds the same binding).
 */
export function bindingNameFor(requestId: string): string {
  const plain = `p0-${requestId.replace('_', '-').toLowerCase()}`;
  if (PLAIN_REQUEST_ID.test(requestId) && DNS_LABEL.test(plain)) return plain;
  const readable = requestId.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, 12);
  return readable ? `p0-${readable}-${hash}` : `p0-${hash}`;
}

/** The request id as a label value: itself when valid, else the binding name (which is). */
export function requestIdLabelValue(requestId: string): string {
  return LABEL_VALUE.test(requestId) ? requestId : bindingNameFor(requestId);
}

export function subjectFor(email: string, mapping: SubjectMapping): BindingSubject {
  const at = email.lastIndexOf('@');
  const base = mapping.from === 'local-part' && at > 0 ? email.slice(0, at) : email;
  return { kind: mapping.kind, name: `${mapping.prefix}${base}` };
}

/** The binding object to create (RoleBinding and ClusterRoleBinding share this shape). */
export function bindingBody(plan: BindingPlan, meta: { requestId: string; principal: string; notAfter: string }): V1RoleBinding {
  return {
    apiVersion: `${RBAC_API_GROUP}/v1`,
    kind: plan.namespace === undefined ? 'ClusterRoleBinding' : 'RoleBinding',
    metadata: {
      name: plan.name,
      ...(plan.namespace === undefined ? {} : { namespace: plan.namespace }),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [REQUEST_ID_LABEL]: requestIdLabelValue(meta.requestId) },
      annotations: {
        [REQUEST_ID_ANNOTATION]: meta.requestId,
        [REQUESTER_ANNOTATION]: meta.principal,
        [NOT_AFTER_ANNOTATION]: meta.notAfter,
      },
    },
    roleRef: { apiGroup: RBAC_API_GROUP, kind: plan.roleRef.kind, name: plan.roleRef.name },
    subjects: [{ apiGroup: RBAC_API_GROUP, kind: plan.subject.kind, name: plan.subject.name }],
  };
}

/** Whether a binding read from the cluster grants what the plan says: the same role to exactly our subject. */
export function bindsAsPlanned(binding: V1RoleBinding, plan: BindingPlan): boolean {
  const subjects = binding.subjects ?? [];
  return (
    binding.roleRef.kind === plan.roleRef.kind &&
    binding.roleRef.name === plan.roleRef.name &&
    subjects.length === 1 &&
    subjects[0]!.kind === plan.subject.kind &&
    subjects[0]!.name === plan.subject.name &&
    // A namespaced subject field on a User/Group subject would be ignored by RBAC, so it does not matter.
    (subjects[0]!.apiGroup ?? RBAC_API_GROUP) === RBAC_API_GROUP
  );
}

/** Whether the binding's metadata already says what `desired` says (labels, annotations). */
export function sameMetadata(binding: V1RoleBinding, desired: V1RoleBinding): boolean {
  const has = (actual: Record<string, string> | undefined, wanted: Record<string, string> | undefined) =>
    Object.entries(wanted ?? {}).every(([key, value]) => actual?.[key] === value);
  return has(binding.metadata?.labels, desired.metadata?.labels) && has(binding.metadata?.annotations, desired.metadata?.annotations);
}

/**
 * Whether a SubjectAccessReview's reason says this binding is what allowed it. The RBAC authorizer
 * names the first binding that allows a request: `RBAC: allowed by RoleBinding "<name>/<namespace>"
 * of Role "<role>" to User "<user>"`, or `... by ClusterRoleBinding "<name>" of ...`.
 */
export function reasonCitesBinding(reason: string | undefined, plan: BindingPlan): boolean {
  if (!reason) return false;
  const cited = plan.namespace === undefined ? `ClusterRoleBinding "${plan.name}"` : `RoleBinding "${plan.name}/${plan.namespace}"`;
  return reason.includes(cited);
}

/** `RoleBinding p0-x in namespace prod` / `ClusterRoleBinding p0-x`: for messages. */
export function describeBinding(plan: BindingPlan): string {
  const binding = plan.namespace === undefined ? `ClusterRoleBinding ${plan.name}` : `RoleBinding ${plan.name} in namespace ${plan.namespace}`;
  return `${binding} (${plan.roleRef.kind} ${plan.roleRef.name} for ${plan.subject.kind} ${plan.subject.name})`;
}

/** Where a binding is: all a MarkedGrant's ref carries, and all deleting it needs. */
export interface BindingLocation {
  name: string;
  /** undefined for a ClusterRoleBinding. */
  namespace: string | undefined;
}

/**
 * A binding found by MANAGED_SELECTOR in `context`, as the reconciler sees it; undefined when it names
 * no request (the label without our request id is not enough to call it ours). The request id is the
 * annotation's (always exact), else the label's (exact whenever the id is a valid label value).
 */
export function markedGrantOf(binding: V1RoleBinding, context: string): MarkedGrant | undefined {
  const { name, namespace, labels, annotations } = binding.metadata ?? {};
  const requestId = annotations?.[REQUEST_ID_ANNOTATION] || labels?.[REQUEST_ID_LABEL];
  if (!name || !requestId || labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return undefined;
  const kind = namespace ? 'RoleBinding' : 'ClusterRoleBinding';
  const where = namespace ? `RoleBinding ${name} in namespace ${namespace}` : `ClusterRoleBinding ${name}`;
  const subjects = (binding.subjects ?? []).map((subject) => `${subject.kind} ${subject.name}`).join(', ') || 'no subject';
  return {
    provider: 'k8s',
    requestId,
    description: `context ${context}: ${where} (${binding.roleRef.kind} ${binding.roleRef.name} for ${subjects})`,
    ref: { context, namespace: namespace ?? '', kind, name },
  };
}

/** Reads a MarkedGrant's ref back; undefined when it is not one markedGrantOf made. */
export function locationOfMarked({ provider, ref }: MarkedGrant): { context: string; location: BindingLocation } | undefined {
  const { context, namespace, kind, name } = ref;
  if (provider !== 'k8s' || !context || !name) return undefined;
  if (kind === 'RoleBinding' && namespace) return { context, location: { name, namespace } };
  if (kind === 'ClusterRoleBinding' && !namespace) return { context, location: { name, namespace: undefined } };
  return undefined;
}
