/**
 * How this process reaches Temporal: Temporal's own environment configuration (`TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, TLS settings, or a profile in its config file), so
 * pointing the product at a cluster or Temporal Cloud needs no product-specific settings.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { TASK_QUEUE } from '../workflows/messages';

export interface TemporalTarget {
  address: string;
  namespace: string;
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export function temporalTarget(): TemporalTarget {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const address = connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS;
  return {
    address,
    namespace: namespace ?? 'default',
    connectionOptions: { ...connectionOptions, address },
  };
}

/** The task queue workers poll and the API starts workflows on; override to isolate deployments or tests. */
export function taskQueueFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.P0_TASK_QUEUE || TASK_QUEUE;
}
