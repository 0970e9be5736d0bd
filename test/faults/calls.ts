/**
 * What each provider call the fault suite's proxies see does: a grant or a removal, and for which
 * request. The suite counts the faults that landed on grants and on removals from this, and finds a
 * grant the provider applied again after the request's removal (a double grant).
 */
import { bindingNameFor, REQUEST_ID_ANNOTATION } from '../../providers/k8s/binding';
import type { FakeResourceManager } from '../support/fakeResourceManager';
import type { CallInfo, CallPurpose, FaultCall } from '../support/faultProxy';

export const GRANT = 'grant';
export const REMOVAL = 'removal';

/** Who the requests of a scenario are, as the calls name them: IAM user names, request ids. */
export class KnownRequests {
  private readonly byUserName = new Map<string, string>();
  private readonly byBindingName = new Map<string, string>();

  add(requestId: string, userName?: string): void {
    if (userName) this.byUserName.set(userName, requestId);
    this.byBindingName.set(bindingNameFor(requestId), requestId);
  }

  ofUser(userName: string | null): string | undefined {
    return userName === null ? undefined : this.byUserName.get(userName);
  }

  ofBinding(name: string | undefined): string | undefined {
    return name === undefined ? undefined : this.byBindingName.get(name);
  }
}

const AWS_GRANTS = new Set(['PutUserPolicy', 'AttachUserPolicy', 'AddUserToGroup']);
/** The role grant's removal also denies the requester's earlier role sessions, on the role. */
const AWS_REMOVALS = new Set(['DeleteUserPolicy', 'DetachUserPolicy', 'RemoveUserFromGroup', 'PutRolePolicy', 'DeleteRolePolicy']);
const MARKER = /^p0-(req_\S+)$/;

/** IAM's query protocol: the operation is the Action, the user and the policy are form fields. */
export function awsPurpose(known: KnownRequests): (call: CallInfo, body: string) => CallPurpose | undefined {
  return (call, body) => {
    const action = AWS_GRANTS.has(call.operation) ? GRANT : AWS_REMOVALS.has(call.operation) ? REMOVAL : undefined;
    if (!action) return undefined;
    const form = new URLSearchParams(body);
    const requestId = MARKER.exec(form.get('PolicyName') ?? '')?.[1] ?? known.ofUser(form.get('UserName'));
    return requestId ? { action, requestId } : { action };
  };
}

interface SentBinding {
  role?: string;
  members?: string[];
  condition?: { title?: string; expression?: string };
}

/**
 * setIamPolicy carries the whole policy: what it grants or removes is its difference from the policy
 * it was read as (its etag), per request binding (`p0-<id>` titles). A binding that appears, gains a
 * member or changes its condition is a grant; one that goes or loses a member, a removal.
 */
export function googlePurpose(fake: FakeResourceManager): (call: CallInfo, body: string) => CallPurpose | undefined {
  return (call, body) => {
    if (call.operation !== 'setIamPolicy') return undefined;
    let sent: { etag?: string; bindings?: SentBinding[] };
    try {
      sent = (JSON.parse(body) as { policy?: typeof sent }).policy ?? {};
    } catch {
      return undefined;
    }
    const before = (sent.etag && fake.bindingsAt(sent.etag)) || [];
    const byTitle = (bindings: SentBinding[]) => {
      const found = new Map<string, string>();
      for (const binding of bindings) {
        const requestId = MARKER.exec(binding.condition?.title ?? '')?.[1];
        if (requestId) found.set(requestId, JSON.stringify([binding.role, [...(binding.members ?? [])].sort(), binding.condition?.expression]));
      }
      return found;
    };
    const [was, now] = [byTitle(before), byTitle(sent.bindings ?? [])];
    for (const [requestId, binding] of now) if (was.get(requestId) !== binding) return { action: GRANT, requestId };
    for (const requestId of was.keys()) if (!now.has(requestId)) return { action: REMOVAL, requestId };
    return undefined;
  };
}

/** RoleBindings and ClusterRoleBindings: created or replaced is a grant, deleted a removal. */
export function kubernetesPurpose(known: KnownRequests): (call: CallInfo, body: string) => CallPurpose | undefined {
  return (call, body) => {
    const [verb, resource] = call.operation.split(' ');
    if (resource !== 'rolebindings' && resource !== 'clusterrolebindings') return undefined;
    const action = verb === 'create' || verb === 'update' || verb === 'patch' ? GRANT : verb === 'delete' ? REMOVAL : undefined;
    if (!action) return undefined;
    let requestId: string | undefined;
    if (action === GRANT) {
      try {
        requestId = (JSON.parse(body) as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[REQUEST_ID_ANNOTATION];
      } catch {
        requestId = undefined;
      }
    }
    requestId ??= known.ofBinding(call.path.split('?')[0]!.split('/').pop());
    return requestId ? { action, requestId } : { action };
  };
}

/** The provider applied it: its upstream answered 2xx (the client may still have got a fault). */
export function applied(call: FaultCall): boolean {
  return call.upstreamStatus !== undefined && call.upstreamStatus >= 200 && call.upstreamStatus < 300;
}

/** A fault at the TCP level: the connection to the provider broke before a whole answer came back. */
export function cut(call: FaultCall): boolean {
  return call.fault === undefined && (call.upstreamError !== undefined || call.status === 0);
}

/**
 * Grant calls for `requestId` that the provider applied after it had applied the request's removal:
 * the access came back once it was taken away.
 */
export function grantsAfterRemoval(calls: readonly FaultCall[], requestId: string): FaultCall[] {
  const mine = calls.filter((call) => call.purpose?.requestId === requestId && applied(call));
  const removedAt = mine.find((call) => call.purpose?.action === REMOVAL)?.at;
  return removedAt === undefined ? [] : mine.filter((call) => call.purpose?.action === GRANT && call.at > removedAt);
}
