/**
 * The project IAM binding a grant writes: one role for one principal, with an IAM condition that
 * makes Google itself stop honouring it at `notAfter`, titled after the request. Each request has its
 * own binding, so two overlapping requests never cut each other short and the principal's own
 * bindings are never touched. Pure functions over the policy as the client library returns it.
 */
import type { protos } from '@google-cloud/resource-manager';

export type IamPolicy = protos.google.iam.v1.IPolicy;
type IamBinding = protos.google.iam.v1.IBinding;
type IamCondition = protos.google.type.IExpr;

/** Conditional role bindings need policy version 3, on read and on write. */
export const CONDITIONAL_POLICY_VERSION = 3;

/** Which binding belongs to a request: its role, its member and its condition's title. */
export interface GrantBinding {
  role: string;
  /** `user:alice@example.com` (lowercase) */
  member: string;
  /** `p0-<requestId>` */
  title: string;
}

const TITLE_PREFIX = 'p0-';

export function grantConditionTitle(requestId: string): string {
  return `${TITLE_PREFIX}${requestId}`;
}

/** The request a condition title names when it is one of ours (`p0-<requestId>`), else undefined. */
export function requestIdOfConditionTitle(title: string | null | undefined): string | undefined {
  if (!title?.startsWith(TITLE_PREFIX)) return undefined;
  const requestId = title.slice(TITLE_PREFIX.length);
  return /^\S+$/.test(requestId) ? requestId : undefined;
}

/**
 * Every (binding, member) in the policy whose condition is titled after a request: what the product
 * granted and has not removed yet. Duplicates (the same member twice in one binding, or two bindings
 * with the same role and title) are listed once, as withoutGrant removes them together.
 */
export function markedGrantBindings(policy: IamPolicy): Array<GrantBinding & { requestId: string }> {
  const found = new Map<string, GrantBinding & { requestId: string }>();
  for (const binding of policy.bindings ?? []) {
    const title = binding.condition?.title;
    const requestId = requestIdOfConditionTitle(title);
    if (requestId === undefined || !binding.role) continue;
    for (const member of binding.members ?? []) {
      const key = JSON.stringify([binding.role, title, member.toLowerCase()]);
      if (!found.has(key)) found.set(key, { role: binding.role, member, title: title!, requestId });
    }
  }
  return [...found.values()];
}

/**
 * The condition for a grant that ends at `notAfter`. The instant is written to the second (CEL's
 * timestamp() takes RFC 3339), rounded up so the backstop never ends earlier than asked.
 */
export function grantCondition(requestId: string, notAfter: string): IamCondition {
  const seconds = Math.ceil(Date.parse(notAfter) / 1000);
  if (!Number.isFinite(seconds)) throw new Error(`notAfter "${notAfter}" is not an ISO-8601 instant`);
  const until = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    title: grantConditionTitle(requestId),
    description: `Temporary access granted by p0 for request ${requestId}; Google stops honouring it at ${until}`,
    expression: `request.time < timestamp("${until}")`,
  };
}

/** Whether the policy holds the request's binding with its member in it. */
export function hasGrant(policy: IamPolicy, grant: GrantBinding): boolean {
  return (policy.bindings ?? []).some((binding) => isGrantBinding(binding, grant) && hasMember(binding, grant.member));
}

/**
 * The policy with the request's binding in place and carrying `condition`, or undefined when it is
 * already exactly so (nothing to write). A second grant for the same request (a retry, an extension)
 * rewrites the condition of the existing binding: the new `notAfter` replaces the old one.
 */
export function withGrant(policy: IamPolicy, grant: GrantBinding, condition: IamCondition): IamPolicy | undefined {
  const bindings = policy.bindings ?? [];
  const ours = bindings.filter((binding) => isGrantBinding(binding, grant));
  if (ours.length === 1 && hasMember(ours[0]!, grant.member) && sameCondition(ours[0]!.condition, condition)) return undefined;
  // Anyone else in the request's binding (added by hand) stays in it; duplicates are merged into one.
  const members = [...new Set(ours.flatMap((binding) => binding.members ?? []))];
  if (!members.some((member) => sameMember(member, grant.member))) members.push(grant.member);
  const others = bindings.filter((binding) => !isGrantBinding(binding, grant));
  return { ...policy, version: CONDITIONAL_POLICY_VERSION, bindings: [...others, { role: grant.role, members, condition }] };
}

/**
 * The policy without the request's member in the request's binding (the binding goes when no member
 * is left), or undefined when there is nothing to remove. No other binding is touched.
 */
export function withoutGrant(policy: IamPolicy, grant: GrantBinding): IamPolicy | undefined {
  const bindings = policy.bindings ?? [];
  if (!hasGrant(policy, grant)) return undefined;
  const remaining = bindings.flatMap((binding) => {
    if (!isGrantBinding(binding, grant)) return [binding];
    const members = (binding.members ?? []).filter((member) => !sameMember(member, grant.member));
    return members.length > 0 ? [{ ...binding, members }] : [];
  });
  return { ...policy, version: CONDITIONAL_POLICY_VERSION, bindings: remaining };
}

function isGrantBinding(binding: IamBinding, grant: GrantBinding): boolean {
  return binding.role === grant.role && binding.condition?.title === grant.title;
}

function hasMember(binding: IamBinding, member: string): boolean {
  return (binding.members ?? []).some((candidate) => sameMember(candidate, member));
}

/** Google compares principals' emails without regard to case. */
function sameMember(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** proto3: an empty string is the same as no value. */
function sameCondition(actual: IamCondition | null | undefined, wanted: IamCondition): boolean {
  const field = (value: string | null | undefined) => value ?? '';
  return (
    field(actual?.title) === field(wanted.title) &&
    field(actual?.expression) === field(wanted.expression) &&
    field(actual?.description) === field(wanted.description)
  );
}
