/**
 * Who is acting in Teams. The person behind an activity is its sender's Teams user id, resolved
 * through the Bot Connector's member lookup (TeamsInfo.getMember) to the email (else the user
 * principal name) of their Entra ID account, normalised: never anything a card's data says. Only
 * members of the bot's own tenant are taken at their word; guests and anonymous users are refused.
 * Answers are cached for two minutes: enough for the few calls of one interaction, short enough that
 * a disabled account or one made a guest stops working soon.
 */
import { AppError } from '../../service/errors';
import { InvalidEmailError, normalizeEmail } from '../../service/identity';
import type { TeamsMember, TeamsTurn } from './botFramework';

export interface TeamsPerson {
  /** Teams user id (`29:...`). */
  userId: string;
  aadObjectId?: string;
  /** Normalised: the one form p0 compares identities in. */
  email: string;
}

export const OTHER_TENANT_MESSAGE = 'This p0 only serves its own Microsoft 365 organization: requests from other organizations are refused.';
export const GUEST_MESSAGE = 'Guest accounts cannot use p0: only members of the organization can. Ask your p0 administrator if you need access.';
export const NO_EMAIL_MESSAGE = "p0 cannot see an email address or user principal name on your Teams account, and your email is who you are in p0. Ask your p0 administrator.";

const DEFAULT_TTL_MS = 2 * 60_000;

export class TeamsDirectory {
  private readonly byUserId = new Map<string, { person: Promise<TeamsPerson>; until: number }>();

  constructor(
    private readonly tenantId: string,
    private readonly ttlMs = DEFAULT_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the activity says it comes from the bot's own tenant. */
  fromOwnTenant(turn: TeamsTurn): boolean {
    return turn.activity.tenantId === this.tenantId;
  }

  /**
   * The person who sent this turn's activity.
   * @throws AppError forbidden for another tenant, a guest or an anonymous user; unauthenticated
   * when Teams shows no usable email.
   */
  personOf(turn: TeamsTurn): Promise<TeamsPerson> {
    if (!this.fromOwnTenant(turn)) return Promise.reject(new AppError('forbidden', OTHER_TENANT_MESSAGE));
    const userId = turn.activity.fromId;
    if (!userId) return Promise.reject(new AppError('unauthenticated', NO_EMAIL_MESSAGE));
    const hit = this.byUserId.get(userId);
    if (hit && hit.until > this.now()) return hit.person;
    const person = turn.member(userId).then((member) => this.personFrom(userId, member));
    this.byUserId.set(userId, { person, until: this.now() + this.ttlMs });
    // A failed look-up is asked again next time rather than remembered.
    person.catch(() => this.byUserId.delete(userId));
    return person;
  }

  private personFrom(userId: string, member: TeamsMember): TeamsPerson {
    if (member.tenantId !== undefined && member.tenantId !== this.tenantId) throw new AppError('forbidden', OTHER_TENANT_MESSAGE);
    if (member.userRole === 'guest' || member.userRole === 'anonymous') throw new AppError('forbidden', GUEST_MESSAGE);
    const raw = member.email?.trim() || member.userPrincipalName?.trim();
    if (!raw) throw new AppError('unauthenticated', NO_EMAIL_MESSAGE);
    try {
      return { userId, aadObjectId: member.aadObjectId, email: normalizeEmail(raw) };
    } catch (error) {
      if (!(error instanceof InvalidEmailError)) throw error;
      throw new AppError('unauthenticated', `The email on your Teams account cannot be your identity in p0: ${error.message}. Ask your p0 administrator.`);
    }
  }
}
