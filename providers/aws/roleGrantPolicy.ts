/**
 * The inline user policy a role grant writes: permission to assume one role until `notAfter`, for
 * sessions no longer than the time left and named after the requester (sts:SourceIdentity). The
 * DateLessThan condition is a backstop so that access ends even if the revoke never runs.
 *
 * And the role's `p0-revoked-sessions` inline policy written when a role grant ends: a deny on the
 * sessions that requester's source identity obtained before the end, as AWS documents for revoking
 * role sessions (aws:TokenIssueTime), because STS credentials stay valid until they expire.
 */

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

/** The role inline policy that denies ended requesters' earlier sessions. */
export const REVOKED_SESSIONS_POLICY_NAME = 'p0-revoked-sessions';
/**
 * IAM allows 10,240 characters of inline policies per role (whitespace not counted); this leaves
 * room for the role's own ones. Past it, the entries fold into one deny of every earlier session.
 */
const REVOKED_SESSIONS_MAX_CHARS = 6_000;

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

/**
 * The role's revoked-sessions policy with `sourceIdentity`'s sessions issued before `endedAt` denied:
 * one statement per identity (a later end replaces an earlier one), and entries older than the
 * role's longest session dropped (every session they denied has expired). Statements it does not
 * recognise are kept. Too large for IAM, everything folds into one deny of all sessions issued
 * before `endedAt`, whoever holds them (the console's "revoke active sessions"): safe, but others
 * must assume the role again.
 *
 * @param encodedCurrent the policy as IAM returns it (URL-encoded), or undefined when there is none.
 */
export function revokedSessionsDocument(encodedCurrent: string | undefined, sourceIdentity: string, endedAt: string, maxSessionSeconds: number): string {
  const oldestUseful = Date.parse(endedAt) - maxSessionSeconds * 1000;
  const kept = statementsOf(encodedCurrent).filter((statement) => {
    const entry = revokedEntryOf(statement);
    if (!entry) return true;
    if (entry.identity === sourceIdentity && Date.parse(entry.issuedBefore) >= Date.parse(endedAt)) return true;
    return entry.identity !== sourceIdentity && Date.parse(entry.issuedBefore) >= oldestUseful;
  });
  const ours = kept.some((statement) => revokedEntryOf(statement)?.identity === sourceIdentity);
  const statements = ours ? kept : [...kept, revokedSessionStatement(endedAt, sourceIdentity)];
  const document = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  if (document.length <= REVOKED_SESSIONS_MAX_CHARS) return document;
  return JSON.stringify({ Version: '2012-10-17', Statement: [revokedSessionStatement(endedAt)] });
}

/** Whether the revoked-sessions policy denies `sourceIdentity`'s sessions issued before `endedAt`. */
export function deniesSessionsBefore(encodedDocument: string, sourceIdentity: string, endedAt: string): boolean {
  return statementsOf(encodedDocument).some((statement) => {
    const entry = revokedEntryOf(statement);
    return entry !== undefined && (entry.identity === sourceIdentity || entry.identity === undefined) && Date.parse(entry.issuedBefore) >= Date.parse(endedAt);
  });
}

function revokedSessionStatement(endedAt: string, sourceIdentity?: string): PolicyStatement {
  const issuedBefore = { 'aws:TokenIssueTime': endedAt };
  return {
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: sourceIdentity ? { StringEquals: { 'aws:SourceIdentity': sourceIdentity }, DateLessThan: issuedBefore } : { DateLessThan: issuedBefore },
  };
}

/** A revoked-sessions entry: whose sessions (undefined: everyone's) issued before when. */
function revokedEntryOf(statement: PolicyStatement): { identity: string | undefined; issuedBefore: string } | undefined {
  const issuedBefore = statement.Condition?.DateLessThan?.['aws:TokenIssueTime'];
  if (statement.Effect !== 'Deny' || typeof issuedBefore !== 'string' || Number.isNaN(Date.parse(issuedBefore))) return undefined;
  const identity = statement.Condition?.StringEquals?.['aws:SourceIdentity'];
  return { identity: typeof identity === 'string' ? identity : undefined, issuedBefore };
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
