/**
 * Each provider's settings, read out of the product's config: the one place that knows both, so
 * config/ stays free of the providers' SDKs and providers/ knows nothing of the config file.
 */
import type { P0Config } from '../config/schema';
import { projectOf } from '../providers/gcloud/catalog';
import type { PropagationSettings } from '../providers/provider';
import type { ProviderSettings } from '../providers/registry';

/**
 * @param env where secrets that should not sit in the policy file come from:
 *   P0_GCLOUD_ACCESS_TOKEN (over `gcloud.accessToken`).
 * @returns settings only for the providers the catalog uses.
 */
export function providerSettings(config: P0Config, env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const settings: ProviderSettings = {};
  const usesAws = config.resources.some((resource) => resource.provider === 'aws') || config.catalog.aws.length > 0;
  if (usesAws) {
    const { region, userLookup, emailTag, userIndex, propagation, simulatePrincipalPolicy, identityCenter } = config.aws;
    settings.aws = {
      region,
      userLookup,
      emailTag,
      userIndex: { confirmAfterMs: userIndex.confirmAfter, refreshAfterMs: userIndex.refreshAfter, maxStaleMs: userIndex.maxStale },
      simulatePrincipalPolicy,
      propagation: propagationSettings(propagation),
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
    };
  }
  if (config.catalog.gcloud.length > 0) {
    const { endpoint, principalType, propagation } = config.gcloud;
    settings.gcloud = {
      endpoint,
      accessToken: env.P0_GCLOUD_ACCESS_TOKEN?.trim() || config.gcloud.accessToken,
      principalType,
      projects: config.catalog.gcloud.map((resource) => projectOf(resource)),
      propagation: propagationSettings(propagation),
    };
  }
  if (config.catalog.k8s.length > 0) {
    const { kubeconfig, inCluster, subject, checks, propagation } = config.k8s;
    settings.k8s = {
      kubeconfig,
      inCluster,
      subject,
      checks,
      // The schema's inferred resource type leaves out provider fields (`context`); the parsed value has them.
      contexts: config.catalog.k8s.map(({ context }: { resource: string; context?: string }) => context),
      propagation: propagationSettings(propagation),
    };
  }
  return settings;
}

/** The config's durations (already milliseconds) under the names the providers read. */
function propagationSettings(propagation: P0Config['aws' | 'gcloud' | 'k8s']['propagation']): PropagationSettings {
  return {
    settleDelayMs: propagation.settleDelay,
    consecutiveReads: propagation.consecutiveReads,
    pollIntervalMs: propagation.pollInterval,
  };
}
