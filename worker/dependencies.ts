/**
 * What a worker process gives its activities, built from an opened runtime: providers that follow
 * config reloads, the stores, and the notifiers of the chat channels that are set up.
 */
import type { ActivityDependencies, Notifier } from '../activities';
import type { ReconcileDependencies } from '../activities/reconcile';
import { createSlackNotifier } from '../bots/slack/notifier';
import { slackSettingsFromEnv, type SlackSettings } from '../bots/slack/settings';
import { ChatMessageStore } from '../db/chatMessageStore';
import { liveProviders } from '../providers/registry';
import { countOrphanFound } from '../service/metrics';
import { providerSettings } from '../service/providerSettings';
import type { Runtime } from '../service/runtime';

export function activityDependencies(runtime: Runtime): ActivityDependencies {
  return {
    providers: liveProviders(providerSettings(runtime.policy.current().config), (listener) => runtime.policy.onChange((policy) => listener(providerSettings(policy.config)))),
    requests: runtime.requests,
    leases: runtime.leases,
    notifiers: notifiers(runtime),
    signing: runtime.signing,
    policy: () => runtime.policy.current(),
  };
}

/** What the reconciler reads and writes; its settings are read from the live config on every run. */
export function reconcileDependencies(runtime: Pick<Runtime, 'requests' | 'leases' | 'reconcileEvents' | 'policy'>): Omit<ReconcileDependencies, 'providers'> {
  return {
    requests: runtime.requests,
    leases: runtime.leases,
    events: runtime.reconcileEvents,
    settings: () => {
      const { orphans, lookback, regrantMissing } = runtime.policy.current().config.reconcile;
      return { orphans, lookbackMs: lookback, regrantMissing };
    },
    onOrphan: (provider, action) => countOrphanFound(provider, action),
  };
}

/** The chat channels that hear about every state change: Slack when SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set. */
function notifiers(runtime: Runtime): Notifier[] {
  const slack = slackSettingsFromEnv();
  return slack ? [slackNotifier(slack, runtime)] : [];
}

/** Posts and updates the requester's and the approvers' Slack messages (approval channel from the live config). */
export function slackNotifier(settings: SlackSettings, runtime: Pick<Runtime, 'database' | 'policy'>): Notifier {
  return createSlackNotifier({
    settings,
    messages: ChatMessageStore.create({ database: runtime.database }),
    approvalChannel: () => runtime.policy.current().config.slack.approvalChannel,
  });
}
