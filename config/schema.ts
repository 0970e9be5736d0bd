import { z } from 'zod';
import { AWS_GRANT_KINDS } from '../providers/aws/iamProvider';
import { parseDurationMs } from '../service/duration';

/**
 * The product's YAML config, validated once at start-up. Every key has a default except the
 * catalog itself, so a minimal file (approvers + resources) works. See config/p0.example.yaml.
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

const email = z.string().regex(/^[^@\s]+@[^@\s]+$/, 'must be an email address');


const resourceSchema = z
  .object({
    provider: z.literal('aws'),
    kind: z.enum(AWS_GRANT_KINDS),
    target: z.string().min(1),
    /** Names of approver groups (keys of the top-level `approvers`). */
    approvers: z.array(z.string()).min(1),
    /** How many distinct approvers must approve (the requester never counts). */
    approvals: z.number().int().min(1).default(1),
    minDuration: duration().prefault('1m'),
    maxDuration: duration().prefault('4h'),
    defaultDuration: duration().optional(),
    description: z.string().optional(),
  })
  .strict();

const awsSchema = z
  .object({
    region: z.string().default('us-east-1'),
    /** How a requester's email finds their IAM user. */
    userLookup: z.enum(['tag-then-name', 'tag', 'name']).default('tag-then-name'),
    emailTag: z.string().default('email'),
    propagation: z
      .object({
        settleDelay: duration({ allowZero: true }).prefault('10s'),
        consecutiveReads: z.number().int().min(1).default(3),
        pollInterval: duration().prefault('2s'),
      })
      .strict()
      .prefault({ settleDelay: '10s', consecutiveReads: 3, pollInterval: '2s' }),
    /** Also ask IAM's own policy evaluation (real AWS only: moto lacks SimulatePrincipalPolicy). */
    simulatePrincipalPolicy: z.boolean().default(false),
  })
  .strict();

export const configSchema = z
  .object({
    approvers: z.record(z.string(), z.array(email).min(1)),
    /** Users who may revoke any request. Tokens issued with --admin are admins too. */
    admins: z.array(email).default([]),
    /** How long a request waits for a decision before it is timed_out. */
    approvalTimeout: duration().prefault('24h'),
    /** Bound on provisioning + propagation; past it the grant is removed and the request fails. */
    verifyTimeout: duration().prefault('5m'),
    resources: z.array(resourceSchema),
    aws: awsSchema.prefault({
      region: 'us-east-1',
      userLookup: 'tag-then-name',
      emailTag: 'email',
      propagation: { settleDelay: '10s', consecutiveReads: 3, pollInterval: '2s' },
      simulatePrincipalPolicy: false,
    }),
  })
  .strict()
  .superRefine((config, ctx) => {
    config.resources.forEach((resource, index) => {
      resource.approvers.forEach((group, groupIndex) => {
        if (!(group in config.approvers)) {
          ctx.addIssue({
            code: 'custom',
            path: ['resources', index, 'approvers', groupIndex],
            message: `unknown approver group "${group}" (defined groups: ${Object.keys(config.approvers).join(', ') || 'none'})`,
          });
        }
      });
      if (resource.minDuration > resource.maxDuration) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'minDuration'],
          message: 'minDuration is longer than maxDuration',
        });
      }
      const defaultDuration = resource.defaultDuration;
      if (defaultDuration !== undefined && (defaultDuration < resource.minDuration || defaultDuration > resource.maxDuration)) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', index, 'defaultDuration'],
          message: 'defaultDuration must lie between minDuration and maxDuration',
        });
      }
    });
  });

export type P0Config = z.output<typeof configSchema>;
export type ResourceConfig = P0Config['resources'][number];
export type AwsConfig = P0Config['aws'];
