/**
 * Builds the configured providers, keyed by the name requests use (`aws`). It takes each provider's
 * own settings, never the product's config: service/providerSettings.ts reads those out of the
 * config, so providers know nothing of the config file and the config loads no cloud SDK.
 */
import { createAwsIamProvider, type AwsSettings } from './aws/iamProvider';
import { createGcloudProvider, type GcloudSettings } from './gcloud/projectIamProvider';
import { createKubernetesRbacProvider, type KubernetesSettings } from './k8s/rbacProvider';
import type { Provider } from './provider';

/** The settings of each provider to build; a provider left out is not configured. */
export interface ProviderSettings {
  aws?: AwsSettings;
  gcloud?: GcloudSettings;
  k8s?: KubernetesSettings;
}

export function createProviders(settings: ProviderSettings): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  if (settings.aws) providers.set('aws', createAwsIamProvider(settings.aws));
  if (settings.gcloud) providers.set('gcloud', createGcloudProvider(settings.gcloud));
  if (settings.k8s) providers.set('k8s', createKubernetesRbacProvider(settings.k8s));
  return providers;
}

/**
 * Providers that follow config reloads: the map the activities hold is refilled in place, so a new
 * propagation setting or a newly configured provider applies without restarting the worker.
 */
export function liveProviders(initial: ProviderSettings, onChange: (listener: (settings: ProviderSettings) => void) => void): Map<string, Provider> {
  const providers = createProviders(initial);
  onChange((settings) => {
    const next = createProviders(settings);
    providers.clear();
    for (const [name, provider] of next) providers.set(name, provider);
  });
  return providers;
}
