/**
 * Which cluster a catalog resource means, and the API clients for it. A resource names a kubeconfig
 * context (or none: the kubeconfig's current context). The kubeconfig is found by the standard rules
 * (`KUBECONFIG`, then `~/.kube/config`, then the pod's service account when running in a cluster),
 * unless the settings name a file or ask for the in-cluster service account explicitly.
 */
import type { AuthorizationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { ProviderInputError } from '../provider';
import { withTransientRetries } from './transientRetries';

type KubernetesClientLibrary = typeof import('@kubernetes/client-node');
let library: Promise<KubernetesClientLibrary> | undefined;

/**
 * The client library, loaded on first use: it takes most of a second to load, which every worker
 * and test process would pay at start-up whether it serves Kubernetes requests or not.
 */
function kubernetesClientLibrary(): Promise<KubernetesClientLibrary> {
  library ??= import('@kubernetes/client-node');
  return library;
}

export interface ClusterConnectionSettings {
  /** A kubeconfig file; omitted = the standard rules. */
  kubeconfig?: string;
  /** Use the pod's service account (and no kubeconfig). */
  inCluster: boolean;
}

/** The API clients for one context. */
export interface ClusterClients {
  /** The context's name, for messages. */
  context: string;
  rbac: RbacAuthorizationV1Api;
  authorization: AuthorizationV1Api;
  core: CoreV1Api;
}

export class KubeClusters {
  private loaded: { config: KubeConfig; library: KubernetesClientLibrary } | undefined;
  private readonly clients = new Map<string, ClusterClients>();

  constructor(private readonly settings: ClusterConnectionSettings) {}

  /**
   * The clients for `context` (undefined = the kubeconfig's current context). An unknown context is a
   * ProviderInputError; a kubeconfig that cannot be read is a plain error (retried: a mounted file may
   * appear, an operator may fix it).
   */
  async clientsFor(context: string | undefined): Promise<ClusterClients> {
    const { config, library } = await this.load();
    const name = context ?? config.getCurrentContext();
    const cached = this.clients.get(name);
    if (cached) return cached;
    if (!name || !config.getContextObject(name)) {
      const known = config.getContexts().map((entry) => entry.name).join(', ') || 'none';
      const where = this.settings.inCluster ? 'the in-cluster configuration' : `the kubeconfig${this.settings.kubeconfig ? ` ${this.settings.kubeconfig}` : ''}`;
      throw new ProviderInputError(
        context === undefined
          ? `${where} has no current context: name one on the catalog resource (contexts: ${known})`
          : `No context "${context}" in ${where} (contexts: ${known})`,
      );
    }
    // One KubeConfig per context: a client reads the current context's user on every call, so
    // switching one shared KubeConfig between contexts would send one cluster's token to another.
    const perContext = new library.KubeConfig();
    perContext.loadFromOptions({ clusters: config.clusters, users: config.users, contexts: config.contexts, currentContext: name });
    if (!perContext.getCurrentCluster()) throw new ProviderInputError(`The context "${name}" names a cluster that is not in the kubeconfig`);
    const clients: ClusterClients = {
      context: name,
      rbac: withTransientRetries(perContext.makeApiClient(library.RbacAuthorizationV1Api)),
      authorization: withTransientRetries(perContext.makeApiClient(library.AuthorizationV1Api)),
      core: withTransientRetries(perContext.makeApiClient(library.CoreV1Api)),
    };
    this.clients.set(name, clients);
    return clients;
  }

  /** Reads the kubeconfig once; a failed read is tried again on the next call. */
  private async load(): Promise<{ config: KubeConfig; library: KubernetesClientLibrary }> {
    if (this.loaded) return this.loaded;
    const loadedLibrary = await kubernetesClientLibrary();
    const config = new loadedLibrary.KubeConfig();
    if (this.settings.inCluster) config.loadFromCluster();
    else if (this.settings.kubeconfig) config.loadFromFile(this.settings.kubeconfig);
    else config.loadFromDefault();
    this.loaded = { config, library: loadedLibrary };
    return this.loaded;
  }
}
