/**
 * The policy the chat apps' end-to-end tests (Slack, Teams) both run against, so the two channels
 * are checked on the same requests: `prod/admin` (a role, with a reason pattern and duration
 * presets), `prod/dev` (a group) and `staging/readonly` (a managed policy); the `platform` group
 * requests and `sre` approves.
 */
export interface ChatPolicyOptions {
  /** The one member of `platform`. */
  requester: string;
  /** The members of `sre`. */
  approvers: readonly string[];
  /** Break-glass on `prod/dev` (for 10 minutes at most); off by default. */
  breakGlassOnDev?: boolean;
  /** Top-level YAML appended as is (e.g. the channel's own section). */
  extra?: string;
}

export function chatPolicyYaml({ requester, approvers, breakGlassOnDev = false, extra = '' }: ChatPolicyOptions): string {
  return `
groups:
  platform: [${requester}]
approvers:
  sre: [${approvers.join(', ')}]
approvalTimeout: 60s
verifyTimeout: 30s
catalog:
  aws:
    - resource: prod
      levels:
        - level: admin
          kind: role
          target: AdminRole
          description: Production administrator
          approvers: [sre]
          requesters: { groups: [platform] }
          requireReason: true
          reasonPattern: '[A-Z]+-\\d+'
          reasonPatternDescription: a ticket id such as INC-42
          durationPresets: [15m, 30m, 1h]
          minDuration: 1s
          maxDuration: 1h
        - level: dev
          kind: group
          target: Developers
          approvers: [sre]
          minDuration: 1s
          maxDuration: 2h
${breakGlassOnDev ? '          breakGlass: { maxDuration: 10m }\n' : ''}    - resource: staging
      levels:
        - level: readonly
          kind: policy
          target: ReadOnlyAccess
          approvers: [sre]
          requesters: { groups: [platform] }
          minDuration: 1s
          maxDuration: 1h
aws:
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
${extra}`;
}
