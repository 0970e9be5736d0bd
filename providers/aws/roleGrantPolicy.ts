/**
 * The inline user policy a role grant writes: permission to assume one role until `notAfter`. The
 * DateLessThan condition is a backstop so that access ends even if the revoke never runs.
 */

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

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

export function roleGrantPolicyDocument(roleArn: string, notAfter: string): string {
  const statement: PolicyStatement = {
    Sid: 'P0JitAssumeRole',
    Effect: 'Allow',
    Action: 'sts:AssumeRole',
    Resource: roleArn,
    Condition: { DateLessThan: { 'aws:CurrentTime': notAfter } },
  };
  return JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
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
