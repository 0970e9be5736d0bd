/**
 * What an AWS catalog entry and the `aws` settings may say, shared by the config schema (checked at
 * load) and the provider (checked again per request). Kept free of the AWS SDK so loading the config
 * does not load its IAM, SSO Admin and Identity Store clients.
 */

/** `aws role|policy|group <name>`: granted to the requester's IAM user. */
export const IAM_USER_GRANT_KINDS = ['role', 'policy', 'group'] as const;
export type IamUserGrantKind = (typeof IAM_USER_GRANT_KINDS)[number];

/** `aws permission-set <name>`: an IAM Identity Center account assignment to the requester's Identity Store user. */
export const IDENTITY_CENTER_GRANT_KIND = 'permission-set';

export const AWS_GRANT_KINDS = [...IAM_USER_GRANT_KINDS, IDENTITY_CENTER_GRANT_KIND] as const;
export type AwsGrantKind = (typeof AWS_GRANT_KINDS)[number];

/** How a requester's email finds their IAM user: by tag, by user name, or the tag first. */
export const USER_LOOKUPS = ['tag-then-name', 'tag', 'name'] as const;
export type UserLookup = (typeof USER_LOOKUPS)[number];

/** The Identity Store attribute that holds the requester's email (both are unique in a store). */
export const IDENTITY_STORE_USER_ATTRIBUTES = ['emails.value', 'userName'] as const;
export type IdentityStoreUserAttribute = (typeof IDENTITY_STORE_USER_ATTRIBUTES)[number];

/** An AWS account id: what a catalog resource's `account` must be for a permission set. */
export const ACCOUNT_PATTERN = /^\d{12}$/;
