/**
 * What people who are not admins are told about a failed request. A provider's error text names
 * the cloud set-up: ARNs (with account ids), the product's own principal, project numbers. The
 * whole text stays in the store, the audit trail and the log, for admins; requesters and approvers
 * (in the API and in chat) get it without those names, short, and told where the rest is.
 */

export const ADMIN_DETAILS_NOTE = "an admin can see the provider's full message";

/** An ARN up to the next space, quote or bracket (resource names may hold , . @ + = / : * ?). */
const ARN = /\barn:[a-z0-9-]+:[\w+=,.@/:*?-]*/gi;
/** An AWS account id (or a Google project number of the same length) on its own. */
const ACCOUNT_ID = /(?<!\d)\d{12}(?!\d)/g;
const MAX_LENGTH = 300;

/** The error text for a requester or an approver: first line only, no ARNs or account ids, at most ~300 characters. */
export function errorForNonAdmins(message: string): string {
  const firstLine = message.split('\n')[0]!;
  let text = firstLine.replace(ARN, '(an ARN)').replace(ACCOUNT_ID, '(an account id)');
  const withheld = text !== message || text.length > MAX_LENGTH;
  if (text.length > MAX_LENGTH) text = `${text.slice(0, MAX_LENGTH - 1)}…`;
  return withheld ? `${text} (${ADMIN_DETAILS_NOTE})` : text;
}
