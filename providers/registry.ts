/** Builds the configured providers, keyed by the name requests use (`aws`). */
import type { P0Config } from '../config/schema';
import { createAwsIamProvider } from './aws/iamProvider';
import { projectOf } from './gcloud/catalog';
import { createGcloudProvider } from './gcloud/projectIamProvider';
import { createKubernetesRbacProvider } from './k8s/rbacProvider';
import type { Provider } from './provider';

/**
 * @param env where secrets that should not sit in the policy file come from:
 *   P0_GCLOUD_ACCESS_TOKEN (over `gcloud.accessToken`).
 */
export function createProviders(config: P0Config, env: NodeJS.ProcessEnv = process.env): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  const usesAws = config.resources.some((resource) => resource.provider === 'aws') || config.catalog.aws.length > 0;
  if (usesAws) {
    const { region, userLookup, emailTag, propagation, simulatePrincipalPolicy, identityCenter } = config.aws;
    providers.set(
      'aws',
      createAwsIamProvider({
        region,
        userLookup,
        emailTag,
        simulatePrincipalPolicy,
        propagation: {
          settleDelayMs: propagation.settleDelay,
          consecutiveReads: propagation.consecutiveReads,
          pollIntervalMs: propagation.pollInterval,
        },
        identityCenter: {
          region: identityCenter.region ?? region,
          instanceArn: identityCenter.instanceArn,
          identityStoreId: identityCenter.identityStoreId,
          userAttribute: identityCenter.userAttribute,
          assignmentPolling: {
            initialIntervalMs: identityCenter.assignmentPolling.initialInterval,
            maxIntervalMs: identityCenter.assignmentPolling.maxInterval,
            timeoutMs: identityCenter.assignmentPolling.timeout,
          },
        },
      }),
    );
  }
  if (config.catalog.gcloud.length > 0) {
    const { endpoint, principalType, propagation } = config.gcloud;
    providers.set(
      'gcloud',
      createGcloudProvider({
        endpoint,
        accessToken: env.P0_GCLOUD_ACCESS_TOKEN?.trim() || config.gcloud.accessToken,
        principalType,
        projects: config.catalog.gcloud.map((resource) => projectOf(resource)),
        propagation: {
          settleDelayMs: propagation.settleDelay,
          consecutiveReads: propagation.consecutiveReads,
          pollIntervalMs: propagation.pollInterval,
        },
      }),
    );
  }
  if (config.catalog.k8s.length > 0) {
    const { kubeconfig, inCluster, subject, checks, propagation } = config.k8s;
    providers.set(
      'k8s',
      createKubernetesRbacProvider({
        kubeconfig,
        inCluster,
        subject,
        checks,
        // The schema's inferred resource type leaves out provider fields (`context`); the parsed value has them.
        contexts: config.catalog.k8s.map(({ context }: { resource: string; context?: string }) => context),
        propagation: {
          settleDelayMs: propagation.settleDelay,
          consecutiveReads: propagation.consecutiveReads,
          pollIntervalMs: propagation.pollInterval,
        },
      }),
    );
  }
  return providers;
}

/**
 * Providers that follow config reloads: the map the activities hold is refilled in place, so a new
 * propagation setting or a newly configured provider applies without restarting the worker.
 */
export function liveProviders(initial: P0Config, onChange: (listener: (config: P0Config) => void) => void): Map<string, Provider> {
  const providers = createProviders(initial);
  onChange((config) => {
    const next = createProviders(config);
    providers.clear();
    for (const [name, provider] of next) providers.set(name, provider);
  });
  return providers;
}
