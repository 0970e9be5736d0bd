/**
 * The least RBAC the product's own identity needs for a catalog, per cluster: what `npm run
 * k8s-rbac` prints and the tests apply to a real API server as the product's identity.
 *
 * The dangerous verb is `bind`: RBAC's escalation check lets an identity create or update a binding
 * of a role whose permissions it does not hold only when it has `bind` on that role. So `bind` is
 * granted only on the roles the catalog names (`resourceNames`), and only where the catalog binds
 * them: a ClusterRole's `bind` cluster-wide for cluster-wide levels, a Role's `bind` in each catalog
 * namespace for the roles bound there. Creating bindings cannot be limited by name (a `create`
 * carries no name to authorize against, and each request's binding has its own name anyway), so the
 * product may create bindings, but of catalog roles only: binding `cluster-admin`, or any role not
 * in the catalog, is refused by the API server.
 *
 * What the provider calls, and what it needs for it:
 * - grant: get, create, update (extension) the request's RoleBinding in the level's namespace, or
 *   its ClusterRoleBinding for a cluster-wide level; get the Role/ClusterRole to derive the checks;
 *   get the namespace (a clear "no such namespace").
 * - verify: create SubjectAccessReviews.
 * - revoke and the orphan reconciler: get and delete the bindings it made, wherever they are (a
 *   namespace may have left the catalog, or been deleted, since), and list RoleBindings in all
 *   namespaces and ClusterRoleBindings (by label; RBAC cannot restrict `list` to a label, so `get`
 *   everywhere adds nothing). Deleting a binding can take access away, never add it.
 */
import { K8S_GRANT_KINDS } from './catalog';

/** The part of a `catalog.k8s[]` entry that decides the RBAC. */
export interface K8sCatalogResource {
  resource: string;
  context?: string;
  levels: ReadonlyArray<{ kind: string; target: string; namespace?: string }>;
}

/** Who the product runs as in the cluster. */
export type ProductIdentity = { kind: 'ServiceAccount'; name: string; namespace: string } | { kind: 'User' | 'Group'; name: string };

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface RbacObject {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'ClusterRole' | 'ClusterRoleBinding' | 'Role' | 'RoleBinding';
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  rules?: RbacRule[];
  roleRef?: { apiGroup: 'rbac.authorization.k8s.io'; kind: 'ClusterRole' | 'Role'; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string; apiGroup?: string }>;
}

/** The objects for one cluster; `context` undefined = the kubeconfig's current context. */
export interface ClusterRbac {
  context: string | undefined;
  objects: RbacObject[];
}

const RBAC = 'rbac.authorization.k8s.io';
const LABELS = { 'app.kubernetes.io/name': 'p0-jit', 'app.kubernetes.io/component': 'product-rbac' };
export const PRODUCT_RBAC_NAME = 'p0-jit';

export function productRbac(catalog: readonly K8sCatalogResource[], identity: ProductIdentity, name = PRODUCT_RBAC_NAME): ClusterRbac[] {
  const clusters = new Map<string | undefined, { clusterWide: Set<string>; namespaces: Map<string, { roles: Set<string>; clusterRoles: Set<string> }> }>();
  for (const resource of catalog) {
    let cluster = clusters.get(resource.context);
    if (!cluster) {
      cluster = { clusterWide: new Set(), namespaces: new Map() };
      clusters.set(resource.context, cluster);
    }
    for (const level of resource.levels) {
      if (!(K8S_GRANT_KINDS as readonly string[]).includes(level.kind)) throw new Error(`${resource.resource}: no grant kind "${level.kind}" (use ${K8S_GRANT_KINDS.join(' or ')})`);
      if (level.namespace === undefined) {
        if (level.kind === 'role') throw new Error(`${resource.resource}: a role level needs a namespace (role ${level.target})`);
        cluster.clusterWide.add(level.target);
        continue;
      }
      let namespace = cluster.namespaces.get(level.namespace);
      if (!namespace) {
        namespace = { roles: new Set(), clusterRoles: new Set() };
        cluster.namespaces.set(level.namespace, namespace);
      }
      (level.kind === 'role' ? namespace.roles : namespace.clusterRoles).add(level.target);
    }
  }

  return [...clusters].map(([context, { clusterWide, namespaces }]) => {
    const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
    const allClusterRoles = sorted([...clusterWide, ...[...namespaces.values()].flatMap((namespace) => [...namespace.clusterRoles])]);
    const allRoles = sorted([...namespaces.values()].flatMap((namespace) => [...namespace.roles]));
    const clusterRules: RbacRule[] = [
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      // Reading and removing work in any namespace, also one deleted (with this Role in it) since the grant.
      { apiGroups: [RBAC], resources: ['rolebindings', 'clusterrolebindings'], verbs: ['get', 'list', 'delete'] },
    ];
    if (clusterWide.size > 0) {
      clusterRules.push({ apiGroups: [RBAC], resources: ['clusterrolebindings'], verbs: ['create', 'update'] });
      clusterRules.push({ apiGroups: [RBAC], resources: ['clusterroles'], verbs: ['bind'], resourceNames: sorted(clusterWide) });
    }
    if (allClusterRoles.length > 0) clusterRules.push({ apiGroups: [RBAC], resources: ['clusterroles'], verbs: ['get'], resourceNames: allClusterRoles });
    if (allRoles.length > 0) clusterRules.push({ apiGroups: [RBAC], resources: ['roles'], verbs: ['get'], resourceNames: allRoles });
    if (namespaces.size > 0) clusterRules.push({ apiGroups: [''], resources: ['namespaces'], verbs: ['get'], resourceNames: sorted(namespaces.keys()) });

    const objects: RbacObject[] = [
      { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name, labels: LABELS }, rules: clusterRules },
      binding('ClusterRoleBinding', 'ClusterRole', name, undefined, identity),
    ];
    for (const namespace of sorted(namespaces.keys())) {
      const { roles, clusterRoles } = namespaces.get(namespace)!;
      const rules: RbacRule[] = [{ apiGroups: [RBAC], resources: ['rolebindings'], verbs: ['create', 'update'] }];
      if (roles.size > 0) rules.push({ apiGroups: [RBAC], resources: ['roles'], verbs: ['bind'], resourceNames: sorted(roles) });
      if (clusterRoles.size > 0) rules.push({ apiGroups: [RBAC], resources: ['clusterroles'], verbs: ['bind'], resourceNames: sorted(clusterRoles) });
      objects.push({ apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name, namespace, labels: LABELS }, rules });
      objects.push(binding('RoleBinding', 'Role', name, namespace, identity));
    }
    return { context, objects };
  });
}

function binding(kind: 'ClusterRoleBinding' | 'RoleBinding', roleKind: 'ClusterRole' | 'Role', name: string, namespace: string | undefined, identity: ProductIdentity): RbacObject {
  const subject =
    identity.kind === 'ServiceAccount' ? { kind: 'ServiceAccount', name: identity.name, namespace: identity.namespace } : { kind: identity.kind, name: identity.name, apiGroup: RBAC };
  return {
    apiVersion: `${RBAC}/v1`,
    kind,
    metadata: { name, ...(namespace === undefined ? {} : { namespace }), labels: LABELS },
    roleRef: { apiGroup: RBAC, kind: roleKind, name },
    subjects: [subject],
  };
}
