/**
 * What the workflow tests share when they run accessRequest with stub activities (no provider, no
 * store): the stubs, which record what the workflow asked for; a request input; updates signed as
 * the request service signs them; and an update's outcome as a value.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { AccessActivities } from '../../activities';
import type { GrantSpec } from '../../providers/provider';
import { MessageSigner, updatePurpose } from '../../service/messageSigning';
import type { ActorInput } from '../../workflows/messages';
import type { AuditEvent } from '../../shared/events';
import type { RequestView } from '../../shared/request';
import type { AccessRequestInput } from '../../workflows/types';

export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
export const DANA = 'dana@example.com';

/** What the stub activities saw: the audit trail and every grant and removal asked for. */
export interface Recorded {
  events: AuditEvent[];
  grants: GrantSpec[];
  removals: GrantSpec[];
}

export function newRecorded(): Recorded {
  return { events: [], grants: [], removals: [] };
}

/** Activities that succeed at once and record what they were asked. */
export function stubActivities(recorded: Recorded): AccessActivities {
  return {
    recordEvent(event: AuditEvent) {
      // A retried write comes again with the same seq: keep the first.
      if (!recorded.events.some((seen) => seen.requestId === event.requestId && seen.seq === event.seq)) recorded.events.push(event);
      return Promise.resolve();
    },
    provision(spec: GrantSpec) {
      recorded.grants.push(spec);
      return Promise.resolve({ resourceKey: `stub:${spec.requestId}`, standing: false });
    },
    async verifyPropagation() {},
    revoke(spec: GrantSpec) {
      recorded.removals.push(spec);
      return Promise.resolve({ removedAtProvider: true, reason: 'stub' });
    },
    verifyRevocation() {
      return Promise.resolve({ confirmed: true });
    },
    async notify() {},
  };
}

/** The request's audit trail as the stubs recorded it, in sequence order. */
export function eventTypes(recorded: Recorded, id: string): string[] {
  return recorded.events.filter((event) => event.requestId === id).sort((a, b) => a.seq - b.seq).map((event) => event.type);
}

/** A request as the request service would start it: Alice asks, Bob and Dana approve, two needed. */
export function requestInput(id: string, overrides: Partial<AccessRequestInput> = {}): AccessRequestInput {
  return {
    id,
    requester: ALICE,
    provider: 'aws',
    resource: 'prod',
    level: 'admin',
    kind: 'role',
    target: 'AdminRole',
    reason: 'deploy',
    duration: '1h',
    durationSeconds: 3600,
    approvers: [BOB, DANA],
    approvalsRequired: 2,
    allowSelfApproval: false,
    breakGlass: false,
    extension: { allowed: true, minSeconds: 60, maxSeconds: 3600 },
    policyVersion: 'test',
    approvalTimeoutSeconds: 600,
    verifyTimeoutSeconds: 60,
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

/**
 * Updates as the request service sends them: signed (the workflow refuses unsigned ones). The stub
 * activities check no signature, so a key of the test's own will do.
 */
const signer = new MessageSigner(randomBytes(32));
export function signed<T extends ActorInput>(update: { name: string }, handle: WorkflowHandle, payload: T): T {
  return signer.signMessage(updatePurpose(update.name), handle.workflowId, payload);
}

export type Outcome = { accepted: true } | { accepted: false; type: string | undefined };

/** An update's result as a value: accepted, or refused with the workflow's rejection type. */
export async function outcome(update: Promise<RequestView>): Promise<Outcome> {
  try {
    await update;
    return { accepted: true };
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) return { accepted: false, type: (error.cause as { type?: string } | undefined)?.type };
    throw error;
  }
}
