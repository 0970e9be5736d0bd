/**
 * Who a person is in p0: their email address, in one form. Every edge (API tokens, Slack's profile
 * email, every address in the config) passes what it received through `normalizeEmail` once, and
 * everything after compares only that form, so `Alice@Example.com` and `alice@example.com` are one
 * person everywhere (requester, approver, admin, group member). Imports nothing of the product, so
 * any layer may use it.
 */

/** Not an address: the message names the value, so the person who typed it can find it. */
export class InvalidEmailError extends Error {
  override readonly name = 'InvalidEmailError';
  readonly code = 'invalid_email';
  constructor(readonly value: string) {
    super(`"${value}" is not an email address (name@domain)`);
  }
}

/** One `@`, something on both sides, no white space inside. */
const EMAIL = /^[^@\s]+@[^@\s]+$/;

/**
 * The email in the only form p0 compares: trimmed and lower-cased (mail providers treat addresses
 * case-insensitively in practice, and an identity must not depend on how someone typed it).
 * @throws InvalidEmailError when what is left is not an address.
 */
export function normalizeEmail(raw: string): string {
  const trimmed = raw.trim();
  if (!EMAIL.test(trimmed)) throw new InvalidEmailError(trimmed);
  return trimmed.toLowerCase();
}
