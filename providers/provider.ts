/**
 * The one interface every cloud provider implements (AWS IAM and Identity Center, Google Cloud, Kubernetes).
 *
 * A provider knows how to grant, read back and remove one kind of access for one person. It knows
 * nothing about workflows, channels or the database: the activities wire providers, the grant-lease
 * store and notifications together, and own the polling loops (settle delay, consecutive reads,
 * heartbeats) so every provider is verified the same way.
 */

/** One catalog entry applied to one person for one request. Every call is keyed by `requestId`. */
export interface GrantSpec {
  requestId: string;
  /** e.g. 'aws' */
  provider: string;
  /** The catalog resource the grant is in (an AWS account, a Google Cloud project, a cluster). */
  resource: string;
  /**
   * Provider-specific fields from the catalog entry (resource and level), e.g. `{project: 'my-proj'}`
   * or `{context: 'prod', namespace: 'payments'}`. Empty for providers that need none.
   */
  scope: Record<string, string>;
  /** e.g. 'role' | 'policy' | 'group' for AWS */
  kind: string;
  /** e.g. a role name, a managed policy name or ARN, a group name */
  target: string;
  /** The requester's identity as the product knows it (an email address). */
  principal: string;
  /**
   * ISO-8601 instant after which the provider itself should refuse the grant, where it can enforce
   * that (the AWS role grant's `DateLessThan aws:CurrentTime` condition). A backstop only: the
   * workflow's durable timer is what ends access.
   */
  notAfter: string;
  /**
   * The provider-side principal resolved when the grant was first made (see GrantInspection.principal),
   * as recorded with the grant lease. Only the activities set it, from the lease, never from the
   * workflow's input. When present, grant, revoke and isGranted act on exactly this principal and
   * never look the email up again; absent only for grants made before principals were recorded.
   */
  recordedPrincipal?: PrincipalRef;
}

/**
 * Which provider-side identity a grant is made to, resolved once at grant time: plain JSON (it is
 * stored with the lease): `{userName, userArn, userId}` for an IAM user, `{identityStoreUserId}` for
 * an Identity Center user, `{member}` for a Google Cloud binding, `{subjectKind, subjectName}` for a
 * Kubernetes subject.
 */
export type PrincipalRef = Record<string, string>;

/** What a provider sees before granting. */
export interface GrantInspection {
  /**
   * Identity of the provider-side object this grant creates or shares, e.g.
   * `aws:user/alice:group/Developers`. Two requests with the same key share one object (a group
   * membership, a policy attachment), so ending one must not remove it while the other is active.
   * Grants that are private to one request (the role grant's inline policy `p0-<requestId>`) have a
   * key that contains the request id.
   */
  resourceKey: string;
  /** Whether the access is already in place at the provider right now. */
  present: boolean;
  /** The principal this grant is made to; the activities record it with the lease. */
  principal: PrincipalRef;
}

/** How to decide that a grant has propagated: the activities' verification loop reads these. */
export interface PropagationSettings {
  /** Wait this long after the read-back first succeeds (IAM documents 10-60 s). */
  settleDelayMs: number;
  /** The read-back must succeed this many times in a row. */
  consecutiveReads: number;
  /** Pause between read-backs. */
  pollIntervalMs: number;
}

/**
 * What the calls of one activity step may share: a recorded principal a provider confirmed a moment
 * ago (AWS: one GetUser by name, compared by unique id) need not be confirmed again by the next call
 * of the same step, such as the read-back right after a grant or a removal. The activities make one
 * per step and drop it when the step ends; it is never shared between steps, attempts or requests,
 * and a call without one confirms afresh. A failed load is not remembered.
 */
export class StepMemo {
  private readonly loads = new Map<string, Promise<unknown>>();

  remember<T>(key: string, load: () => Promise<T>): Promise<T> {
    const known = this.loads.get(key) as Promise<T> | undefined;
    if (known) return known;
    const loading = load();
    this.loads.set(key, loading);
    loading.catch(() => {
      if (this.loads.get(key) === loading) this.loads.delete(key);
    });
    return loading;
  }

  /** Remembers `value` as loaded for `key` (a confirmation made on the way, e.g. by a look-up). */
  seed<T>(key: string, value: T): void {
    if (!this.loads.has(key)) this.loads.set(key, Promise.resolve(value));
  }
}

export interface Provider {
  readonly name: string;
  readonly propagation: PropagationSettings;
  /**
   * Resolves the principal and target; throws ProviderInputError when either does not exist. Every
   * call below takes the step's StepMemo, if any, to confirm a recorded principal once per step.
   */
  inspect(spec: GrantSpec, memo?: StepMemo): Promise<GrantInspection>;
  /** Idempotent: granting what is already granted succeeds and changes nothing. */
  grant(spec: GrantSpec, memo?: StepMemo): Promise<void>;
  /**
   * Idempotent: removing what is already gone succeeds. Throws PrincipalUnconfirmedError when the
   * recorded principal no longer exists (or, for a grant without one, the look-up is ambiguous):
   * the removal cannot be confirmed, and that must never read as a clean removal.
   */
  revoke(spec: GrantSpec, memo?: StepMemo): Promise<void>;
  /**
   * One read-back: does the provider currently report the grant as in place (and, where enabled,
   * effective)? A recorded principal that no longer exists holds nothing: false.
   */
  isGranted(spec: GrantSpec, memo?: StepMemo): Promise<boolean>;
  /**
   * For the reconciler: every grant at the provider that carries the product's marker (an inline
   * policy named `p0-<requestId>`, a binding whose condition title or label names the request), in
   * the places the catalog covers. Shared grants without a marker (group memberships, policy
   * attachments) are found from the grant leases instead.
   */
  listMarked(): Promise<MarkedGrant[]>;
  /** Removes one grant found by listMarked. Idempotent: removing what is already gone succeeds. */
  removeMarked(grant: MarkedGrant): Promise<void>;
}

/** A grant found at the provider that the product made (it carries our marker and a request id). */
export interface MarkedGrant {
  provider: string;
  requestId: string;
  /** Where it is and what it grants, for people: `user alice: inline policy p0-01J...`. */
  description: string;
  /** What removeMarked needs to find it again (plain JSON: it travels between activities). */
  ref: Record<string, string>;
}

/**
 * Bad input the provider will never accept however often it is retried (no such role, user or
 * group). Activities turn it into a non-retryable failure with this message; everything else a
 * provider throws (throttling, 5xx, resets) is retried with backoff.
 */
export class ProviderInputError extends Error {
  override readonly name: string = 'ProviderInputError';
  constructor(message: string) {
    super(message);
  }
}

/**
 * The principal a grant was made to cannot be confirmed any more: the recorded one was deleted or
 * replaced by another with the same name, or (for a grant recorded without a principal) the email
 * now matches several. The provider removes nothing rather than guess; the caller raises an alert
 * (audit details, metric) instead of reporting a clean removal. A ProviderInputError, so that
 * provisioning treats it as bad input that no retry fixes.
 */
export class PrincipalUnconfirmedError extends ProviderInputError {
  override readonly name = 'PrincipalUnconfirmedError';
  /** Stable, for audit details and the metric's label. */
  readonly code = 'principal_unconfirmed';
}
