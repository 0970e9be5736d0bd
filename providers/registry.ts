/** Builds the configured providers once per worker, keyed by the name requests use (`aws`). */
import type { P0Config } from '../config/schema';
import { createAwsIamProvider } from './aws/iamProvider';
import type { Provider } from './provider';

export function createProviders(config: P0Config): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  if (config.resources.some((resource) => resource.provider === 'aws')) {
    const { region, userLookup, emailTag, propagation, simulatePrincipalPolicy } = config.aws;
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
      }),
    );
  }
  return providers;
}
