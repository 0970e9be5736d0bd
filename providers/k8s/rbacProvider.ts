/**
 * Kubernetes access through RBAC: each request gets its own binding `p0-<requestId>` (see
 * binding.ts) of the level's Role or ClusterRole to the requester's subject, in the level's namespace
 * or cluster-wide. "Granted" means the API server's own authorizer says yes: SubjectAccessReviews for
 * the role's rules (accessChecks.ts). "Revoked" means the binding is gone and no review cites it any
 * more. The reconciler finds every binding the product holds by its labels (listMarked).
 */
import type { RbacAuthorizationV1Api, V1PolicyRule, V1RoleBinding } from '@kubernetes/client-node';
import {
  ProviderInputError,
  type GrantInspection,
  type GrantSpec,
  type MarkedGrant,
  type PropagationSettings,
  type Provider,
} from '../provider';
import { checksFromRules, describeCheck, subjectAccessReviewFor, type AccessCheck } from './accessChecks';
import {
  bindingBody,
  bindingNameFor,
  bindsAsPlanned,
  describeBinding,
  locationOfMarked,
  MANAGED_SELECTOR,
  markedGrantOf,
  reasonCitesBinding,
  sameMetadata,
  subjectFor,
  type BindingLocation,
  type BindingSubject,
  type BindingPlan,
  type SubjectMapping,
} from './binding';
import { K8S_GRANT_KINDS, K8S_SUBJECT_KINDS, NAMESPACE_PATTERN, ROLE_NAME_PATTERN, type K8sGrantKind } from './catalog';
import { KubeClusters, type ClusterClients, type ClusterConnectionSettings } from './clusters';
import { classifyKubernetesError, isAlreadyExists, isForbidden, isNotFound } from './errors';

export interface KubernetesSettings extends ClusterConnectionSettings {
  /** How the requester's email becomes the binding's subject. */
  subject: SubjectMapping;
  /** SubjectAccessReview checks by role name, used instead of the ones derived from the role's rules. */
  checks: Record<string, AccessCheck[]>;
  propagation: PropagationSettings;
  /** The catalog's contexts (undefined = the kubeconfig's current context): where listMarked looks. */
  contexts: ReadonlyArray<string | undefined>;
}

/** Bindings per list call: a cluster with many of them is read in pages, never in one huge answer. */
const LIST_PAGE_SIZE = 500;

/** A spec resolved against the cluster: everything the calls need. */
interface ResolvedGrant {
  clients: ClusterClients;
  plan: BindingPlan;
  /** What verifies the grant; empty only when the role has gone since it was granted (lenient look-up). */
  checks: AccessCheck[];
}

/** One binding API for both scopes: RoleBinding (namespaced) and ClusterRoleBinding have the same shape. */
interface BindingCalls {
  read(): Promise<V1RoleBinding>;
  create(body: V1RoleBinding): Promise<unknown>;
  replace(body: V1RoleBinding): Promise<unknown>;
  delete(): Promise<unknown>;
}

export class KubernetesRbacProvider implements Provider {
  readonly name = 'k8s';
  readonly propagation: PropagationSettings;
  private readonly clusters: KubeClusters;
  private readonly subjectMapping: SubjectMapping;
  private readonly configuredChecks: Record<string, AccessCheck[]>;
  private readonly catalogContexts: ReadonlyArray<string | undefined>;

  constructor({ clusters, settings }: { clusters: KubeClusters; settings: KubernetesSettings }) {
    this.clusters = clusters;
    this.propagation = settings.propagation;
    this.subjectMapping = settings.subject;
    this.configuredChecks = settings.checks;
    this.catalogContexts = [...new Set(settings.contexts)];
  }

  /** `present`: this request's binding is already there as planned (a retry, or an extension). */
  async inspect(spec: GrantSpec): Promise<GrantInspection> {
    const grant = await this.resolve(spec, 'strict');
    const binding = await this.readBinding(grant);
    const { subject } = grant.plan;
    return {
      resourceKey: resourceKeyOf(spec, grant.plan),
      present: binding !== undefined && bindsAsPlanned(binding, grant.plan),
      principal: { subjectKind: subject.kind, subjectName: subject.name },
    };
  }

  /**
   * Creates the binding; when it exists (a retry, or an approved extension with a later notAfter) it
   * is brought up to date instead. roleRef cannot change on a binding, so one that binds something
   * else is deleted and created again.
   */
  async grant(spec: GrantSpec): Promise<void> {
    const grant = await this.resolve(spec, 'strict');
    const calls = bindingCalls(grant.clients.rbac, grant.plan);
    const desired = bindingBody(grant.plan, { requestId: spec.requestId, principal: spec.principal, notAfter: spec.notAfter });
    const action = `creating ${describeBinding(grant.plan)} in context ${grant.clients.context}`;
    try {
      await calls.create(desired);
      return;
    } catch (error) {
      if (!isAlreadyExists(error)) throw classifyKubernetesError(error, action);
    }
    try {
      const existing = await calls.read();
      if (!bindsAsPlanned(existing, grant.plan)) {
        await calls.delete();
        await calls.create(desired);
      } else if (!sameMetadata(existing, desired)) {
        // resourceVersion makes this a compare-and-swap: a concurrent change fails with 409 and is retried.
        const metadata = {
          ...existing.metadata,
          labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
          annotations: { ...existing.metadata?.annotations, ...desired.metadata?.annotations },
        };
        await calls.replace({ ...existing, metadata });
      }
    } catch (error) {
      throw classifyKubernetesError(error, `updating ${describeBinding(grant.plan)} in context ${grant.clients.context}`);
    }
  }

  /**
   * Deletes exactly this request's binding; one already gone (or a namespace already gone) is success,
   * and so is a spec nothing could ever have been granted for (see `locate`).
   */
  async revoke(spec: GrantSpec): Promise<void> {
    const located = await this.locateLeniently(spec);
    if (!located) return;
    const { clients, plan } = located;
    await deleteBinding(clients, plan, describeBinding(plan));
  }

  /**
   * While the binding is there: granted when every check is allowed (by it, or by access the user
   * already had). Once it is gone: still granted while any check is allowed *by this binding*, which
   * the authorizer's reason names (its caches lag the delete); allowed through the user's own
   * bindings does not count, those are not ours to end.
   */
  async isGranted(spec: GrantSpec): Promise<boolean> {
    const grant = await this.resolve(spec, 'lenient');
    if (!grant) return false;
    const binding = await this.readBinding(grant);
    const bound = binding !== undefined && bindsAsPlanned(binding, grant.plan);
    if (grant.checks.length === 0) return bound;
    const reviews = await Promise.all(grant.checks.map((check) => this.review(grant, check)));
    if (bound) return reviews.every((review) => review.allowed);
    return reviews.some((review) => review.allowed && reasonCitesBinding(review.reason, grant.plan));
  }

  /**
   * Every RoleBinding (in all namespaces) and ClusterRoleBinding labelled as ours and naming a
   * request, in each cluster the catalog covers (a context named twice, or both by name and as the
   * current context, is read once). A context the kubeconfig lacks is skipped: no grant can have been
   * made through it (inspect refuses it) and none can be reached. Any failure to list throws (and is
   * retried), so a cluster that could not be read is never reported as holding nothing.
   */
  async listMarked(): Promise<MarkedGrant[]> {
    const clusters = new Map<string, ClusterClients>();
    for (const context of this.catalogContexts) {
      try {
        const clients = await this.clusters.clientsFor(context);
        clusters.set(clients.context, clients);
      } catch (error) {
        if (!(error instanceof ProviderInputError)) throw error;
      }
    }
    const perCluster = await Promise.all(
      [...clusters.values()].map(async (clients) => {
        const { rbac, context } = clients;
        const [namespaced, clusterWide] = await Promise.all([
          listAllPages(context, 'RoleBindings in all namespaces', (page) =>
            rbac.listRoleBindingForAllNamespaces({ labelSelector: MANAGED_SELECTOR, limit: LIST_PAGE_SIZE, _continue: page }),
          ),
          listAllPages(context, 'ClusterRoleBindings', (page) =>
            rbac.listClusterRoleBinding({ labelSelector: MANAGED_SELECTOR, limit: LIST_PAGE_SIZE, _continue: page }),
          ),
        ]);
        return [...namespaced, ...clusterWide].flatMap((binding) => markedGrantOf(binding, context) ?? []);
      }),
    );
    return perCluster.flat();
  }

  /** Deletes the binding listMarked found; already gone (or its namespace gone) is success. */
  async removeMarked(marked: MarkedGrant): Promise<void> {
    const found = locationOfMarked(marked);
    if (!found) throw new ProviderInputError(`Not a Kubernetes binding listMarked found: ${JSON.stringify({ provider: marked.provider, ref: marked.ref })}`);
    const clients = await this.clusters.clientsFor(found.context);
    const { name, namespace } = found.location;
    await deleteBinding(clients, found.location, namespace === undefined ? `ClusterRoleBinding ${name}` : `RoleBinding ${name} in namespace ${namespace}`);
  }

  /**
   * Looks up the context, the namespace and the role. `strict` (inspect, grant) throws
   * ProviderInputError when any is unknown, or when the role gives nothing to verify. `lenient`
   * (isGranted) answers undefined for a spec nothing could have been granted for, and tolerates a
   * role or namespace that has gone since: the binding is still read back.
   */
  private async resolve(spec: GrantSpec, mode: 'strict'): Promise<ResolvedGrant>;
  private async resolve(spec: GrantSpec, mode: 'lenient'): Promise<ResolvedGrant | undefined>;
  private async resolve(spec: GrantSpec, mode: 'strict' | 'lenient'): Promise<ResolvedGrant | undefined> {
    const strict = mode === 'strict';
    const located = strict ? await this.locate(spec) : await this.locateLeniently(spec);
    if (!located) return undefined;
    const { clients, plan } = located;
    const { namespace, roleRef } = plan;
    if (strict && namespace !== undefined) await this.requireNamespace(clients, namespace);
    const rules = await this.readRules(clients, plan);
    if (rules === undefined) {
      if (strict) {
        const where = roleRef.kind === 'Role' ? ` in namespace ${namespace}` : '';
        throw new ProviderInputError(`No ${roleRef.kind} named ${spec.target}${where} in context ${clients.context}`);
      }
      return { clients, plan, checks: [] };
    }
    const checks = this.configuredChecks[spec.target] ?? checksFromRules(rules);
    if (checks.length === 0 && strict) {
      throw new ProviderInputError(
        `The ${roleRef.kind} ${spec.target} has no rules to verify a grant with (aggregated ClusterRoles stay empty until ` +
          `kube-controller-manager fills them): add rules to it, or configure k8s.checks.${spec.target}`,
      );
    }
    return { clients, plan, checks };
  }

  /**
   * What the spec means before anything is read from the cluster: its cluster's clients and the
   * binding it creates. Throws ProviderInputError for a spec no grant could come from: an unknown
   * kind, a Role without a namespace, a name Kubernetes cannot hold, a context the kubeconfig lacks.
   */
  private async locate(spec: GrantSpec): Promise<{ clients: ClusterClients; plan: BindingPlan }> {
    const kind = kindOf(spec);
    const namespace = namespaceOf(spec);
    if (!ROLE_NAME_PATTERN.test(spec.target)) throw new ProviderInputError(`"${spec.target}" is not a valid Kubernetes role name`);
    const roleKind = roleKindOf(kind, namespace);
    const clients = await this.clusters.clientsFor(spec.scope.context);
    const plan: BindingPlan = {
      name: bindingNameFor(spec.requestId),
      // A ClusterRole without a namespace is granted cluster-wide (a ClusterRoleBinding).
      namespace,
      roleRef: { kind: roleKind, name: spec.target },
      // The subject the grant was made to, when recorded: a later change of the subject mapping
      // must not make the read-back (or a re-grant) name someone else.
      subject: recordedSubjectOf(spec) ?? subjectFor(spec.principal, this.subjectMapping),
    };
    return { clients, plan };
  }

  /**
   * `locate` for clean-up: undefined where it would throw, since nothing can have been granted
   * for such a spec (inspect refuses it before any grant), and the workflow removes and re-reads the
   * grant after every failed provisioning, so that clean-up must succeed. (A context deleted from the
   * kubeconfig while its grants are active also lands here; its bindings keep their labels and
   * `p0.dev/not-after` for a reconciler.)
   */
  private async locateLeniently(spec: GrantSpec): Promise<{ clients: ClusterClients; plan: BindingPlan } | undefined> {
    try {
      return await this.locate(spec);
    } catch (error) {
      if (error instanceof ProviderInputError) return undefined;
      throw error;
    }
  }

  /**
   * A RoleBinding in a namespace that does not exist fails with a 404 that reads like a missing role;
   * asking first gives the clearer message. Without RBAC to read namespaces the check is skipped.
   */
  private async requireNamespace(clients: ClusterClients, namespace: string): Promise<void> {
    try {
      await clients.core.readNamespace({ name: namespace });
    } catch (error) {
      if (isNotFound(error)) throw new ProviderInputError(`No namespace ${namespace} in context ${clients.context}`);
      if (isForbidden(error)) return;
      throw classifyKubernetesError(error, `reading namespace ${namespace}`);
    }
  }

  /** The role's rules, or undefined when it does not exist. */
  private async readRules(clients: ClusterClients, plan: BindingPlan): Promise<V1PolicyRule[] | undefined> {
    const { kind, name } = plan.roleRef;
    try {
      const role =
        kind === 'Role'
          ? await clients.rbac.readNamespacedRole({ name, namespace: plan.namespace! })
          : await clients.rbac.readClusterRole({ name });
      return role.rules ?? [];
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyKubernetesError(error, `reading ${kind} ${name}`);
    }
  }

  private async readBinding(grant: ResolvedGrant): Promise<V1RoleBinding | undefined> {
    try {
      return await bindingCalls(grant.clients.rbac, grant.plan).read();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyKubernetesError(error, `reading ${describeBinding(grant.plan)}`);
    }
  }

  private async review(grant: ResolvedGrant, check: AccessCheck): Promise<{ allowed: boolean; reason?: string }> {
    const body = subjectAccessReviewFor(check, grant.plan.subject, grant.plan.namespace);
    try {
      const { status } = await grant.clients.authorization.createSubjectAccessReview({ body });
      return { allowed: status?.allowed === true && status.denied !== true, reason: status?.reason };
    } catch (error) {
      throw classifyKubernetesError(error, `asking whether ${grant.plan.subject.kind} ${grant.plan.subject.name} may ${describeCheck(check)}`);
    }
  }
}

/** A Kubernetes provider connecting with the settings' kubeconfig (or the standard rules). */
export function createKubernetesRbacProvider(settings: KubernetesSettings): KubernetesRbacProvider {
  return new KubernetesRbacProvider({ clusters: new KubeClusters(settings), settings });
}

function kindOf(spec: GrantSpec): K8sGrantKind {
  const kind = K8S_GRANT_KINDS.find((known) => known === spec.kind);
  if (!kind) throw new ProviderInputError(`Kubernetes has no grant kind "${spec.kind}": use one of ${K8S_GRANT_KINDS.join(', ')}`);
  return kind;
}

function namespaceOf(spec: GrantSpec): string | undefined {
  const namespace = spec.scope.namespace;
  if (namespace === undefined || namespace === '') return undefined;
  if (!NAMESPACE_PATTERN.test(namespace)) throw new ProviderInputError(`"${namespace}" is not a valid Kubernetes namespace name`);
  return namespace;
}

function roleKindOf(kind: K8sGrantKind, namespace: string | undefined): 'Role' | 'ClusterRole' {
  if (kind === 'cluster-role') return 'ClusterRole';
  if (namespace === undefined) throw new ProviderInputError('A Kubernetes Role lives in a namespace: set `namespace` on the catalog level');
  return 'Role';
}

function bindingCalls(rbac: RbacAuthorizationV1Api, { name, namespace }: BindingLocation): BindingCalls {
  if (namespace === undefined) {
    return {
      read: () => rbac.readClusterRoleBinding({ name }),
      create: (body) => rbac.createClusterRoleBinding({ body }),
      replace: (body) => rbac.replaceClusterRoleBinding({ name, body }),
      delete: () => rbac.deleteClusterRoleBinding({ name }),
    };
  }
  return {
    read: () => rbac.readNamespacedRoleBinding({ name, namespace }),
    create: (body) => rbac.createNamespacedRoleBinding({ namespace, body }),
    replace: (body) => rbac.replaceNamespacedRoleBinding({ name, namespace, body }),
    delete: () => rbac.deleteNamespacedRoleBinding({ name, namespace }),
  };
}

/** Deletes one binding (revoke, removeMarked); one already gone, or its namespace gone, is success. */
async function deleteBinding(clients: ClusterClients, location: BindingLocation, description: string): Promise<void> {
  try {
    await bindingCalls(clients.rbac, location).delete();
  } catch (error) {
    if (isNotFound(error)) return;
    throw classifyKubernetesError(error, `deleting ${description} in context ${clients.context}`);
  }
}

/**
 * Every item of a label-selected list, page by page. 403 means the product's RBAC lacks `list` on
 * bindings cluster-wide: retried like any 403, with a message that says what to add.
 */
async function listAllPages(
  context: string,
  what: string,
  list: (page: string | undefined) => Promise<{ items: V1RoleBinding[]; metadata?: { _continue?: string } }>,
): Promise<V1RoleBinding[]> {
  const items: V1RoleBinding[] = [];
  let page: string | undefined;
  do {
    try {
      const answer = await list(page);
      items.push(...answer.items);
      page = answer.metadata?._continue || undefined;
    } catch (error) {
      if (isForbidden(error)) {
        throw new Error(
          `Kubernetes refused listing ${what} in context ${context}: the product's RBAC needs \`list\` on rolebindings and ` +
            'clusterrolebindings cluster-wide (see docs/kubernetes.md, "RBAC the product needs")',
          { cause: error },
        );
      }
      throw classifyKubernetesError(error, `listing ${what} in context ${context}`);
    }
  } while (page);
  return items;
}

/**
 * Private to the request (the binding is named after it), so two requests never share it; the
 * catalog resource names the cluster.
 */
function resourceKeyOf(spec: GrantSpec, plan: BindingPlan): string {
  const where = plan.namespace === undefined ? 'clusterrolebindings' : `namespaces/${plan.namespace}/rolebindings`;
  return `k8s:${spec.resource}/${where}/${plan.name}`;
}

/** The recorded Kubernetes subject (GrantInspection.principal), or undefined for a grant recorded without one. */
function recordedSubjectOf(spec: GrantSpec): BindingSubject | undefined {
  const recorded = spec.recordedPrincipal;
  if (!recorded) return undefined;
  const kind = K8S_SUBJECT_KINDS.find((known) => known === recorded.subjectKind);
  if (!kind || !recorded.subjectName) throw new ProviderInputError(`Not a recorded Kubernetes subject: ${JSON.stringify(recorded)}`);
  return { kind, name: recorded.subjectName };
}
