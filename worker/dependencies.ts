/**
 * What a worker process gives its activities, built from an opened runtime: providers that follow
 * config reloads, the stores, and (as channels arrive) the notifiers.
 */
import type { ActivityDependencies } from '../activities';
import { liveProviders } from '../providers/registry';
import type { Runtime } from '../service/runtime';

export function activityDependencies(runtime: Runtime): ActivityDependencies {
  return {
    providers: liveProviders(runtime.policy.current().config, (listener) => runtime.policy.onChange((policy) => listener(policy.config))),
    requests: runtime.requests,
    leases: runtime.leases,
  };
}
