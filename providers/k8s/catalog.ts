/**
 * What a Kubernetes catalog entry and the `k8s` settings may say, shared by the config schema
 * (checked at load) and the provider (checked again per request). Kept free of the client library so
 * loading the config does not load it.
 */

/**
 * `k8s role <name> --namespace <ns>`: a Role in that namespace, bound by a RoleBinding there.
 * `k8s cluster-role <name>`: a ClusterRole, bound in the level's namespace by a RoleBinding when the
 * level names one, cluster-wide by a ClusterRoleBinding when it does not.
 */
export const K8S_GRANT_KINDS = ['role', 'cluster-role'] as const;
export type K8sGrantKind = (typeof K8S_GRANT_KINDS)[number];

/** The RBAC subject kind the requester is bound as. */
export const K8S_SUBJECT_KINDS = ['User', 'Group'] as const;
export type K8sSubjectKind = (typeof K8S_SUBJECT_KINDS)[number];

/** Which part of the requester's email becomes the subject's name (after the prefix). */
export const K8S_SUBJECT_NAME_SOURCES = ['email', 'local-part'] as const;
export type K8sSubjectNameSource = (typeof K8S_SUBJECT_NAME_SOURCES)[number];

/** A namespace name: a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters). */
export const NAMESPACE_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A Role or ClusterRole name: RBAC accepts any path segment name, so only what no name may be
 * (empty, `.`, `..`, containing `/` or `%`) is refused here; the API server decides the rest.
 */
export const ROLE_NAME_PATTERN = /^(?!\.{1,2}$)[^/%]+$/;
