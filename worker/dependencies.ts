/**
 * What a worker process gives its activities, built over an opened runtime: providers that follow
 * config reloads, the stores, the message signer and the live policy (the grant authority's inputs),
 * and the notifiers of the chat channels that are set up.
 */
import type { ActivityDependencies, Notifier } from '../activities';
import type { ReconcileDependencies } from '../activities/reconcile';
import { createSlackNotifier } from '../bots/slack/notifier';
import { slackSettingsFromEnv, type SlackSettings } from '../bots/slack/settings';
import { createTeamsNotifier } from '../bots/teams/notifier';
import { teamsSettingsFromEnv, type TeamsSettings } from '../bots/teams/settings';
import type { Provider } from '../providers/provider';
import { liveProviders } from '../providers/registry';
import { countOrphanFound } from '../service/metrics';
import { providerSettings } from '../service/providerSettings';
import type { Runtime } from '../service/runtime';

/** What a process may change in its worker's wiring: the fault suite, the bench and the tests do. */
export interface WorkerHooks {
  /** Puts every provider behind a wrapper (a crash, a no-op, a fault), again after each config reload. */
  wrapProvider?: (provider: Provider) => Provider;
  /** The Slack notifier's settings; default from SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET, off when unset (null: off). */
  slack?: SlackSettings | null;
  /** The Teams notifier's settings; default from TEAMS_APP_ID / TEAMS_APP_PASSWORD / TEAMS_TENANT_ID, off when unset (null: off). */
  teams?: TeamsSettings | null;
  /** Notifiers beside Slack's and Teams'. */
  notifiers?: readonly Notifier[];
}

export function activityDependencies(runtime: Runtime, hooks: WorkerHooks = {}): ActivityDependencies {
  return {
    providers: providers(runtime, hooks.wrapProvider),
    requests: runtime.requests,
    leases: runtime.leases,
    notifiers: notifiers(runtime, hooks),
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

/**
 * The configured providers, refilled in place when the config changes (so a new propagation setting
 * or provider applies without a restart), each behind `wrap` when given.
 */
function providers(runtime: Pick<Runtime, 'policy'>, wrap: (provider: Provider) => Provider = (provider) => provider): ReadonlyMap<string, Provider> {
  const wrapped = new Map<string, Provider>();
  const refill = () => {
    wrapped.clear();
    for (const [name, provider] of live) wrapped.set(name, wrap(provider));
  };
  const live = liveProviders(providerSettings(runtime.policy.current().config), (listener) =>
    runtime.policy.onChange((policy) => {
      listener(providerSettings(policy.config));
      refill();
    }),
  );
  refill();
  return wrapped;
}

/** The chat channels that hear about every state change: Slack and Teams when they are set up, then the extra ones. */
function notifiers(runtime: Pick<Runtime, 'chatMessages' | 'policy' | 'teams' | 'logger'>, hooks: WorkerHooks): Notifier[] {
  const slack = hooks.slack === undefined ? slackSettingsFromEnv() : (hooks.slack ?? undefined);
  const teams = hooks.teams === undefined ? teamsSettingsFromEnv() : (hooks.teams ?? undefined);
  return [
    ...(slack ? [slackNotifier(slack, runtime)] : []),
    ...(teams ? [createTeamsNotifier({ settings: teams, messages: runtime.chatMessages, records: runtime.teams, logger: runtime.logger })] : []),
    ...(hooks.notifiers ?? []),
  ];
}

/** Posts and updates the requester's and the approvers' Slack messages (approval channel from the live config). */
function slackNotifier(settings: SlackSettings, runtime: Pick<Runtime, 'chatMessages' | 'policy'>): Notifier {
  return createSlackNotifier({
    settings,
    messages: runtime.chatMessages,
    approvalChannel: () => runtime.policy.current().config.slack.approvalChannel,
  });
}
