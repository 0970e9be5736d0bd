/**
 * The inline user policy a role grant writes: permission to assume one role until `notAfter`, for
 * sessions no longer than the time left and named after the requester (sts:SourceIdentity). The
 * DateLessThan condition is a backstop so that access ends even if the revoke never runs.
 *
 * And the role's `p0-revoked-sessions-<hash>` inline policy written when a role grant ends: a deny on
 * the sessions that requester's source identity obtained before the end, as AWS documents for
 * revoking role sessions (aws:TokenIssueTime), because STS credentials stay valid until they expire.
 */
import { createHash } from 'node:crypto';

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

/** STS's shortest and longest role session (DurationSeconds). */
export const STS_MIN_SESSION_SECONDS = 900;
export const STS_MAX_SESSION_SECONDS = 43_200;

/**
 * The role inline policies that deny ended requesters' earlier sessions: one per source identity,
 * named after a hash of it, so that requests of different people ending together never write over
 * each other's deny (each is its own IAM object), and `p0-revoked-sessions-all` for the fallback.
 */
export const REVOKED_SESSIONS_POLICY_PREFIX = 'p0-revoked-sessions-';
export const REVOKED_ALL_SESSIONS_POLICY_NAME = `${REVOKED_SESSIONS_POLICY_PREFIX}all`;

const ROLE_GRANT_POLICY_PREFIX = 'p0-';

export function roleGrantPolicyName(requestId: string): string {
  return `${ROLE_GRANT_POLICY_PREFIX}${requestId}`;
}

/** The request id in a role grant's inline policy name, or undefined when the policy is not ours. */
export function requestIdOfRoleGrantPolicy(policyName: string): string | undefined {
  return policyName.startsWith(ROLE_GRANT_POLICY_PREFIX) && policyName.length > ROLE_GRANT_POLICY_PREFIX.length
    ? policyName.slice(ROLE_GRANT_POLICY_PREFIX.length)
    : undefined;
}

/**
 * @param sourceIdentity the requester's email: sessions must carry it (`--source-identity`), so that
 *   they can be told apart and denied when the request ends.
 * @param nowMs when the policy is written: the session cap is the time left from then.
 */
export function roleGrantPolicyDocument(roleArn: string, notAfter: string, sourceIdentity: string, nowMs: number): string {
  const secondsLeft = Math.floor((Date.parse(notAfter) - nowMs) / 1000);
  const durationCap = Math.min(STS_MAX_SESSION_SECONDS, Math.max(STS_MIN_SESSION_SECONDS, secondsLeft));
  const until = { 'aws:CurrentTime': notAfter };
  const namedAfterRequester = { 'sts:SourceIdentity': sourceIdentity };
  const statements: PolicyStatement[] = [
    {
      Sid: 'P0JitAssumeRole',
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Resource: roleArn,
      Condition: { DateLessThan: until, NumericLessThanEquals: { 'sts:DurationSeconds': String(durationCap) }, StringEquals: namedAfterRequester },
    },
    // Setting a source identity is its own action; allowed only with the requester's own.
    { Sid: 'P0JitSetSourceIdentity', Effect: 'Allow', Action: 'sts:SetSourceIdentity', Resource: roleArn, Condition: { DateLessThan: until, StringEquals: namedAfterRequester } },
  ];
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** The name of the role inline policy denying `sourceIdentity`'s earlier sessions. */
export function revokedSessionsPolicyName(sourceIdentity: string): string {
  return `${REVOKED_SESSIONS_POLICY_PREFIX}${createHash('sha256').update(sourceIdentity).digest('hex').slice(0, 24)}`;
}

/**
 * A deny of every action for sessions issued before `endedAt`: those carrying `sourceIdentity`, or
 * (undefined) every session of the role, whoever holds it (the console's "revoke active sessions").
 */
export function revokedSessionsDocument(sourceIdentity: string | undefined, endedAt: string): string {
  const issuedBefore = { 'aws:TokenIssueTime': endedAt };
  const statement: PolicyStatement = {
    Sid: 'P0JitRevokedSessions',
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: sourceIdentity === undefined ? { DateLessThan: issuedBefore } : { StringEquals: { 'aws:SourceIdentity': sourceIdentity }, DateLessThan: issuedBefore },
  };
  return JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
}

/**
 * The deny a revoked-sessions policy (as IAM returns it, URL-encoded) holds: whose sessions
 * (undefined: everyone's) issued before when; undefined when it holds no such deny.
 */
export function revokedSessionsEntry(encodedDocument: string): { identity: string | undefined; issuedBefore: string } | undefined {
  for (const statement of statementsOf(encodedDocument)) {
    const issuedBefore = statement.Condition?.DateLessThan?.['aws:TokenIssueTime'];
    if (statement.Effect !== 'Deny' || typeof issuedBefore !== 'string' || Number.isNaN(Date.parse(issuedBefore))) continue;
    return { identity: statement.Condition?.StringEquals?.['aws:SourceIdentity'], issuedBefore };
  }
  return undefined;
}

function statementsOf(encodedDocument: string | undefined): PolicyStatement[] {
  if (!encodedDocument) return [];
  try {
    const document = JSON.parse(decodeURIComponent(encodedDocument)) as { Statement?: PolicyStatement | PolicyStatement[] };
    return Array.isArray(document.Statement) ? document.Statement : document.Statement ? [document.Statement] : [];
  } catch {
    return [];
  }
}

/**
 * Whether a policy document as IAM returns it (URL-encoded JSON) still allows assuming `roleArn`:
 * someone may have edited the policy by hand since p0 wrote it.
 */
export function allowsAssumingRole(encodedDocument: string, roleArn: string): boolean {
  let document: { Statement?: PolicyStatement | PolicyStatement[] };
  try {
    document = JSON.parse(decodeURIComponent(encodedDocument)) as typeof document;
  } catch {
    return false;
  }
  const statements = Array.isArray(document.Statement) ? document.Statement : document.Statement ? [document.Statement] : [];
  const asList = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
  return statements.some(
    (statement) =>
      statement.Effect === 'Allow' &&
      asList(statement.Action).includes('sts:AssumeRole') &&
      asList(statement.Resource).includes(roleArn),
  );
}
