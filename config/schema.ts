import { z } from 'zod';
import { ACCOUNT_PATTERN, AWS_GRANT_KINDS, IDENTITY_STORE_USER_ATTRIBUTES, USER_LOOKUPS } from '../providers/aws/catalog';
import { GCLOUD_GRANT_KINDS, GCLOUD_PRINCIPAL_TYPES, PROJECT_PATTERN } from '../providers/gcloud/catalog';
import { K8S_GRANT_KINDS, K8S_SUBJECT_KINDS, K8S_SUBJECT_NAME_SOURCES, NAMESPACE_PATTERN } from '../providers/k8s/catalog';
import { parseDurationMs } from '../shared/duration';
import { InvalidEmailError, normalizeEmail } from '../service/identity';
import { SHELL_SAFE_NAME, SHELL_SAFE_NAME_DESCRIPTION } from '../shared/requestGrammar';

/**
 * The product's YAML config, validated as a whole at start-up and on every reload. The access
 * policy (catalog, who may request, approvers, auto-approval, break-glass) lives here so the
 * security team reviews one file. See docs/policies.md and config/p0.example.yaml.
 */

/** A duration string (`15m`), kept as milliseconds after validation. */
const duration = (options: { allowZero?: boolean } = {}) =>
  z.string().transform((text, ctx) => {
    try {
      return parseDurationMs(text, options);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/** Every address in the config is read in the one form p0 compares (service/identity.ts). */
const email = z.string().transform((text, ctx) => {
  try {
    return normalizeEmail(text);
  } catch (error) {
    if (!(error instanceof InvalidEmailError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
    return z.NEVER;
  }
});
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" or "-"');

/** A name shell completion may offer (a target, a context): no character a shell would interpret. */
const plainName = z.string().superRefine((text, ctx) => {
  if (!SHELL_SAFE_NAME.test(text)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not a plain name: ${SHELL_SAFE_NAME_DESCRIPTION}` });
});

const regex = z.string().transform((source, ctx) => {
  try {
    new RegExp(source);
    return source;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
});

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'use 24-hour HH:MM');
const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'unknown time zone (use an IANA name such as Europe/Berlin)');

/**
 * The rules of one access level, whatever the provider. Used both by a catalog level and by a
 * core-style flat `resources:` entry, so both spell every rule the same way. Each provider adds its
 * `kind` values (and any fields of its own) through `catalogSection` below.
 */
const levelRules = {
  target: plainName,
  description: z.string().optional(),
  /** Approver groups (keys of the top-level `approvers`). */
  approvers: z.array(z.string()).min(1),
  /** Distinct approvers needed; the requester never counts unless allowSelfApproval. */
  approvals: z.number().int().min(1).default(1),
  allowSelfApproval: z.boolean().default(false),
  /** Who may request it; omitted = everyone. Groups are the top-level `groups`. */
  requesters: z
    .object({ users: z.array(email).default([]), groups: z.array(z.string()).default([]) })
    .strict()
    .optional(),
  minDuration: duration().prefault('1m'),
  maxDuration: duration().prefault('4h'),
  /** A request's total lifetime (its duration plus every extension); default maxDuration. */
  maxLifetime: duration().optional(),
  defaultDuration: duration().optional(),
  /** Durations offered in pickers (the Slack modal, the CLI's `p0 ls`). */
  durationPresets: z.array(duration()).optional(),
  requireReason: z.boolean().default(false),
  /** The reason must match this (e.g. a ticket id `[A-Z]+-\d+`)... */
  reasonPattern: regex.optional(),
  /** ...described in words for the error message, e.g. "a ticket id such as INC-42". */
  reasonPatternDescription: z.string().optional(),
  /** Overrides the top-level approvalTimeout for this level. */
  approvalTimeout: duration().optional(),
  /** Marks a level as read-only, for auto-approval rules that only cover such levels. */
  readOnly: z.boolean().default(false),
  /** Break-glass: granted at once without approval, capped at maxDuration, reviewed afterwards. */
  breakGlass: z.object({ maxDuration: duration().prefault('1h') }).strict().optional(),
  /** Whether an active grant may be extended (each extension is approved like a request). */
  allowExtension: z.boolean().default(true),
};

/**
 * One provider's part of the catalog: resources (an AWS account, a Google Cloud project, a
 * cluster), each with access levels. Fields a provider adds to a resource or a level (beyond the
 * shared rules) become the grant's `scope`, handed to the provider with every call.
 */
function catalogSection<Kinds extends readonly [string, ...string[]]>(
  kinds: Kinds,
  extra: { resource?: z.ZodRawShape; level?: z.ZodRawShape } = {},
) {
  const level = z.object({ level: name, kind: z.enum(kinds), ...levelRules, ...extra.level }).strict();
  const resource = z
    .object({ resource: name, description: z.string().optional(), ...extra.resource, levels: z.array(level).min(1) })
    .strict();
  return z.array(resource).default([]);
}

/** The core issue's flat entry: one AWS grant with its rules, in a resource called `default`. */
const flatResourceSchema = z.object({ provider: z.literal('aws'), kind: z.enum(AWS_GRANT_KINDS), ...levelRules }).strict();

const autoApprovalRuleSchema = z
  .object({
    name,
    /** The requester must be in one of these groups (omitted = anyone who may request). */
    requesterGroups: z.array(z.string()).optional(),
    /** Only levels marked `readOnly: true`. */
    readOnly: z.boolean().default(false),
    /** Only requests (and extensions) no longer than this. */
    maxDuration: duration().optional(),
    /** Only at these times, in this time zone. */
    businessHours: z
      .object({
        timeZone,
        days: z.array(z.enum(WEEKDAYS)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
        from: clock,
        to: clock,
      })
      .strict()
      .optional(),
    /** Which levels, as `provider/resource/level` with `*` wildcards (omitted = all). */
    levels: z.array(z.string()).optional(),
  })
  .strict();

/**
 * How a provider decides a grant has propagated (providers/provider.ts PropagationSettings): each
 * provider has its own defaults, since each cloud applies a change at its own pace.
 */
const propagationSchema = (defaults: { settleDelay: string; consecutiveReads: number; pollInterval: string }) =>
  z
    .object({
      settleDelay: duration({ allowZero: true }).prefault(defaults.settleDelay),
      consecutiveReads: z.number().int().min(1).default(defaults.consecutiveReads),
      pollInterval: duration().prefault(defaults.pollInterval),
    })
    .strict()
    .prefault(defaults);

const awsSchema = z
  .object({
    region: z.string().default('us-east-1'),
    /** How a requester's email finds their IAM user. */
    userLookup: z.enum(USER_LOOKUPS).default('tag-then-name'),
    emailTag: z.string().default('email'),
    /** The email tag index (see docs/aws.md): served stale, rebuilt in the background. */
    userIndex: z
      .object({
        /** A user found whose tags were read longer ago than this is read again before it is used. */
        confirmAfter: duration().prefault('60s'),
        /** An index older than this is still served while a new scan runs in the background. */
        refreshAfter: duration().prefault('10m'),
        /** No look-up rests on a tag read longer ago than this: it waits for a new scan. */
        maxStale: duration().prefault('15m'),
      })
      .strict()
      .prefault({})
      .refine((index) => index.maxStale >= index.refreshAfter, 'aws.userIndex.maxStale must be at least refreshAfter'),
    propagation: propagationSchema({ settleDelay: '10s', consecutiveReads: 3, pollInterval: '2s' }),
    /** Also ask IAM's own policy evaluation (real AWS only: moto lacks SimulatePrincipalPolicy). */
    simulatePrincipalPolicy: z.boolean().default(false),
    /** The IAM Identity Center mode (catalog kind `permission-set`); see docs/aws.md. */
    identityCenter: z
      .object({
        /** The instance's home region; default: aws.region. */
        region: z.string().optional(),
        /** Either or both may be omitted when ListInstances shows exactly one (matching) instance. */
        instanceArn: z.string().regex(/^arn:[\w-]+:sso:::instance\/\S+$/, 'an Identity Center instance ARN (arn:aws:sso:::instance/ssoins-...)').optional(),
        identityStoreId: z.string().min(1).optional(),
        /** The Identity Store attribute holding the requester's email address. */
        userAttribute: z.enum(IDENTITY_STORE_USER_ATTRIBUTES).default('emails.value'),
        /** Waiting for AWS to finish creating or deleting an assignment: pauses doubling from initialInterval to maxInterval. */
        assignmentPolling: z
          .object({
            initialInterval: duration().prefault('1s'),
            maxInterval: duration().prefault('5s'),
            // Grant and revoke run in activities with a 30 s heartbeat timeout and do not heartbeat meanwhile.
            timeout: duration().refine((ms) => ms <= 25_000, 'at most 25s (the activity heartbeat timeout is 30s); a longer wait is retried').prefault('20s'),
          })
          .strict()
          .refine((polling) => polling.initialInterval <= polling.maxInterval, { message: 'initialInterval is longer than maxInterval', path: ['initialInterval'] })
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The Google Cloud provider (catalog `gcloud`); see docs/gcp.md. */
const gcloudSchema = z
  .object({
    /** Resource Manager's base URL, for a fake or a private endpoint; default: Google's own. */
    endpoint: z
      .string()
      .refine((text) => {
        try {
          const url = new URL(text);
          return ['http:', 'https:'].includes(url.protocol) && url.pathname === '/' && !url.search && !url.hash;
        } catch {
          return false;
        }
      }, 'a base URL with no path, e.g. http://127.0.0.1:9000')
      .optional(),
    /** A static bearer token instead of Application Default Credentials (tests, private endpoints); P0_GCLOUD_ACCESS_TOKEN overrides it and keeps it out of this file. */
    accessToken: z.string().min(1).optional(),
    /** How the requester's email is bound: `user:`, `serviceAccount:` or `group:`. */
    principalType: z.enum(GCLOUD_PRINCIPAL_TYPES).default('user'),
    /** Google documents about 2 minutes (sometimes 7 or more) before an IAM change applies everywhere. */
    propagation: propagationSchema({ settleDelay: '2m', consecutiveReads: 2, pollInterval: '5s' }),
  })
  .strict();

/** One SubjectAccessReview question: a verb on a resource, or on a non-resource URL. */
const k8sAccessCheckSchema = z
  .object({
    verb: z.string().min(1),
    /** API group; omitted = the core group. */
    group: z.string().optional(),
    resource: z.string().min(1).optional(),
    subresource: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    nonResourceURL: z.string().startsWith('/').optional(),
  })
  .strict()
  .refine((check) => (check.resource === undefined) !== (check.nonResourceURL === undefined), 'name either a resource or a nonResourceURL');

/** The Kubernetes provider (catalog `k8s`); see docs/kubernetes.md. */
const k8sSchema = z
  .object({
    /** A kubeconfig file; omitted = the standard rules (KUBECONFIG, ~/.kube/config, in-cluster). */
    kubeconfig: z.string().min(1).optional(),
    /** Use the pod's service account instead of a kubeconfig. */
    inCluster: z.boolean().default(false),
    /** How the requester's email becomes the RBAC subject, e.g. `{kind: User, prefix: 'oidc:'}` for oidc:alice@example.com. */
    subject: z
      .object({
        kind: z.enum(K8S_SUBJECT_KINDS).default('User'),
        prefix: z.string().default(''),
        from: z.enum(K8S_SUBJECT_NAME_SOURCES).default('email'),
      })
      .strict()
      .prefault({}),
    /** SubjectAccessReview checks by role name, instead of one derived from each rule of the role. */
    checks: z.record(z.string().min(1), z.array(k8sAccessCheckSchema).min(1)).default({}),
    /** The RBAC authorizer follows bindings through a watch: usually well under a second. */
    propagation: propagationSchema({ settleDelay: '2s', consecutiveReads: 3, pollInterval: '1s' }),
  })
  .strict()
  .refine((settings) => !(settings.inCluster && settings.kubeconfig), { message: 'set either kubeconfig or inCluster, not both', path: ['inCluster'] });

/** A host name names this machine: a local IdP may then be reached over plain http. */
function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** An absolute http(s) URL with no query or fragment, kept without its trailing slash. */
const baseUrl = (what: string, options: { httpsUnlessLoopback: boolean; noPath?: boolean }) =>
  z.string().transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text.trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: `not a URL: give ${what}` });
      return z.NEVER;
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: `give ${what} as http(s)://host[:port][/path], without query, fragment or credentials` });
      return z.NEVER;
    }
    if (options.httpsUnlessLoopback && url.protocol !== 'https:' && !isLoopbackHostname(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: `must be https:// (plain http only for an issuer on this machine: 127.0.0.1, localhost, [::1])` });
      return z.NEVER;
    }
    if (options.noPath && url.pathname !== '/') {
      ctx.addIssue({ code: 'custom', message: `give ${what} without a path: p0 serves its pages at the root (/auth/...)` });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, '');
  });

const domain = z
  .string()
  .transform((text) => text.trim().toLowerCase().replace(/^@/, ''))
  .pipe(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, 'a mail domain such as example.com'));

/** Sign-in (docs/authentication.md): OpenID Connect, one-time login links, sessions and token lifetimes. */
const authSchema = z
  .object({
    /** The product's external base URL; the IdP's redirect URI is `<publicUrl>/auth/callback`. Default: the API's own listening address. */
    publicUrl: baseUrl('the external base URL, e.g. https://p0.example.com', { httpsUnlessLoopback: false, noPath: true }).optional(),
    /** Any standard OpenID provider (Okta, Entra ID, Google, Keycloak). The client secret comes only from P0_OIDC_CLIENT_SECRET. */
    oidc: z
      .object({
        issuer: baseUrl('the issuer URL, e.g. https://example.okta.com', { httpsUnlessLoopback: true }),
        clientId: z.string().min(1),
        /** Only addresses in these mail domains may sign in. */
        allowedDomains: z.array(domain).min(1),
        /** The claim holding the address (Entra ID: often preferred_username). */
        emailClaim: z.string().min(1).default('email'),
      })
      .strict()
      .optional(),
    /** One-time login links (`npm run login-link`); default on only when no IdP is configured. */
    loginLinks: z.boolean().optional(),
    /** A browser session ends after this long without use... */
    sessionIdleTimeout: duration().prefault('12h'),
    /** ...and at the latest this long after sign-in. */
    sessionMaxLifetime: duration().prefault('7d'),
    /** Personal API tokens (`p0 login`) expire this long after they are issued. */
    tokenLifetime: duration().prefault('30d'),
  })
  .strict()
  .refine((auth) => auth.sessionIdleTimeout <= auth.sessionMaxLifetime, { message: 'sessionIdleTimeout is longer than sessionMaxLifetime', path: ['sessionIdleTimeout'] });

export const configSchema = z
  .object({
    /** Directory groups: who is in which team. (IdP-backed groups plug in behind the same interface later.) */
    groups: z.record(name, z.array(email)).default({}),
    /** Named approver groups. */
    approvers: z.record(name, z.array(email).min(1)),
    /** Users who may revoke any request and see every request. Tokens issued with --admin are admins too. */
    admins: z.array(email).default([]),
    /** Break-glass requests one person may hold that no approver has reviewed yet (active or ended). */
    maxUnreviewedBreakGlass: z.number().int().min(1).default(1),
    /** How long a request waits for a decision before it is timed_out (a level may override it). */
    approvalTimeout: duration().prefault('24h'),
    /** Bound on provisioning + propagation; past it the grant is removed and the request fails. */
    verifyTimeout: duration().prefault('5m'),
    /** The catalog: provider -> resources -> access levels. */
    catalog: z
      .object({
        aws: catalogSection(AWS_GRANT_KINDS, { resource: { account: z.string().regex(ACCOUNT_PATTERN, 'an AWS account id has 12 digits').optional() } }),
        /** `project` defaults to the resource's name. */
        gcloud: catalogSection(GCLOUD_GRANT_KINDS, { resource: { project: z.string().regex(PROJECT_PATTERN, 'a Google Cloud project id (e.g. my-project) or number').optional() } }),
        /** `context` omitted = the kubeconfig's current context; `namespace` omitted = cluster-wide (kind cluster-role only). */
        k8s: catalogSection(K8S_GRANT_KINDS, {
          resource: { context: plainName.optional() },
          level: { namespace: z.string().regex(NAMESPACE_PATTERN, 'a Kubernetes namespace name (lowercase letters, digits and "-")').optional() },
        }),
      })
      .strict()
      .prefault({}),
    /** Core-style flat catalog entries; still accepted. */
    resources: z.array(flatResourceSchema).default([]),
    autoApproval: z.array(autoApprovalRuleSchema).default([]),
    aws: awsSchema.prefault({}),
    gcloud: gcloudSchema.prefault({}),
    k8s: k8sSchema.prefault({}),
    /** The orphan reconciler (docs/reliability.md): a Temporal Schedule comparing the providers with the requests. */
    reconcile: z
      .object({
        /** Run it at all (a Schedule on the worker's task queue). */
        enabled: z.boolean().default(true),
        /** How often the Schedule runs it. */
        every: duration().prefault('5m'),
        /** `revoke` removes a grant no request holds; `report` only records it (for a first rollout, or an account shared with another installation). */
        orphans: z.enum(['revoke', 'report']).default('revoke'),
        /** Ended requests' shared grants (memberships, attachments) are re-checked this long after the lease was taken. */
        lookback: duration().prefault('7d'),
        /** An active request's grant found missing is provisioned again; `false` only reports it (during an incident, when someone removed it on purpose). */
        regrantMissing: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    auth: authSchema.prefault({}),
    /** The Slack app (bots/slack, docs/slack.md); its tokens come from the environment, never from this file. */
    slack: z
      .object({
        /** Ask approvers in this channel (its id, e.g. C0123456789; invite the app to it) instead of by direct message. */
        approvalChannel: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'a Slack channel id such as C0123456789 (channel details, at the bottom of About)').optional(),
        /** The one workspace whose members may use p0 (required with Slack on; docs/slack.md says where to find it). */
        teamId: z.string().regex(/^T[A-Z0-9]{2,}$/, 'a Slack workspace (team) id such as T0123456789').optional(),
        /** On Enterprise Grid: the organization whose members may use p0 (instead of, or as well as, teamId). */
        enterpriseId: z.string().regex(/^E[A-Z0-9]{2,}$/, 'a Slack Enterprise Grid organization id such as E0123456789').optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const checkLevel = (rules: LevelRules, path: (string | number)[]) => {
      rules.approvers.forEach((group, index) => {
        if (!(group in config.approvers)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'approvers', index],
            message: `unknown approver group "${group}" (defined: ${Object.keys(config.approvers).join(', ') || 'none'})`,
          });
        }
      });
      rules.requesters?.groups.forEach((group, index) => {
        if (!(group in config.groups)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'requesters', 'groups', index],
            message: `unknown group "${group}" (defined under groups: ${Object.keys(config.groups).join(', ') || 'none'})`,
          });
        }
      });
      if (rules.minDuration > rules.maxDuration) {
        ctx.addIssue({ code: 'custom', path: [...path, 'minDuration'], message: 'minDuration is longer than maxDuration' });
      }
      if (rules.maxLifetime !== undefined && rules.maxLifetime < rules.maxDuration) {
        ctx.addIssue({ code: 'custom', path: [...path, 'maxLifetime'], message: 'maxLifetime is shorter than maxDuration: a single request could outlive it' });
      }
      const within = (value: number) => value >= rules.minDuration && value <= rules.maxDuration;
      if (rules.defaultDuration !== undefined && !within(rules.defaultDuration)) {
        ctx.addIssue({ code: 'custom', path: [...path, 'defaultDuration'], message: 'defaultDuration must lie between minDuration and maxDuration' });
      }
      rules.durationPresets?.forEach((preset, index) => {
        if (!within(preset)) {
          ctx.addIssue({ code: 'custom', path: [...path, 'durationPresets', index], message: 'preset must lie between minDuration and maxDuration' });
        }
      });
      if (rules.reasonPatternDescription !== undefined && rules.reasonPattern === undefined) {
        ctx.addIssue({ code: 'custom', path: [...path, 'reasonPatternDescription'], message: 'describes a reasonPattern that is not set' });
      }
      if (rules.breakGlass && rules.breakGlass.maxDuration < rules.minDuration) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'breakGlass', 'maxDuration'],
          message: 'is shorter than minDuration: every break-glass request would be refused',
        });
      }
      // A quorum nobody can reach leaves every request to time out.
      if (rules.approvers.every((group) => group in config.approvers)) {
        const people = new Set(rules.approvers.flatMap((group) => config.approvers[group] ?? []));
        if (rules.approvals > people.size) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'approvals'],
            message: `needs ${rules.approvals} distinct approvers but the approver groups have only ${people.size}`,
          });
        }
      }
    };
    Object.entries(config.catalog).forEach(([provider, resources]) => resources.forEach((resource, resourceIndex) => {
      const seen = new Set<string>();
      resource.levels.forEach((level, levelIndex) => {
        const path = ['catalog', provider, resourceIndex, 'levels', levelIndex];
        if (seen.has(level.level)) ctx.addIssue({ code: 'custom', path: [...path, 'level'], message: `level "${level.level}" appears twice in resource "${resource.resource}"` });
        seen.add(level.level);
        checkLevel(level, path);
      });
    }));
    config.resources.forEach((resource, index) => checkLevel(resource, ['resources', index]));
    config.autoApproval.forEach((rule, index) => {
      // A rule of only a name approves every request: what a half-written list of rules looks like.
      const conditions = [rule.requesterGroups?.length, rule.readOnly, rule.maxDuration !== undefined, rule.businessHours, rule.levels?.length];
      if (!conditions.some(Boolean)) {
        ctx.addIssue({
          code: 'custom',
          path: ['autoApproval', index],
          message: `rule "${rule.name}" has no condition, so it would approve every request: add requesterGroups, readOnly: true, maxDuration, businessHours or levels (levels: ['*'] if every level is meant)`,
        });
      }
      rule.requesterGroups?.forEach((group, groupIndex) => {
        if (!(group in config.groups)) {
          ctx.addIssue({ code: 'custom', path: ['autoApproval', index, 'requesterGroups', groupIndex], message: `unknown group "${group}"` });
        }
      });
    });
  });

type LevelRules = z.output<z.ZodObject<typeof levelRules>> & { kind: string };
export type P0Config = z.output<typeof configSchema>;
export type AutoApprovalRule = P0Config['autoApproval'][number];
export type AwsConfig = P0Config['aws'];
export type LevelConfig = LevelRules;
export type AuthConfig = P0Config['auth'];
