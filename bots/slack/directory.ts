/**
 * Who is who in Slack. A Slack user's email address (`users.info`, scope users:read.email) is their
 * identity in p0, the same one the API's tokens carry; the other way round, an email finds
 * the person to message (`users.lookupByEmail`) and their direct-message channel
 * (`conversations.open`).
 *
 * Only full members of the pinned workspace are taken at their word: guests (`is_restricted`,
 * `is_ultra_restricted`), people from other organizations in Slack Connect channels (`is_stranger`)
 * and accounts whose home workspace is another one are refused, whatever email they show.
 * Answers are cached for two minutes only: long enough for the few calls of one interaction, short
 * enough that a deactivated account, or one turned into a guest, stops working soon.
 */
import type { webApi } from '@slack/bolt';
import { AppError } from '../../service/errors';
import { InvalidEmailError, normalizeEmail } from '../../service/identity';
import type { SlackWorkspacePin } from './settings';

export interface SlackPerson {
  /** Slack user id, e.g. U0123ABCD. */
  id: string;
  /** Lower-cased: the one form p0 compares identities in. */
  email: string;
  /** IANA time zone from the Slack profile, when Slack has one. */
  timeZone?: string;
}

interface SlackUser {
  id?: string;
  team_id?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_restricted?: boolean;
  is_ultra_restricted?: boolean;
  is_stranger?: boolean;
  enterprise_user?: { enterprise_id?: string };
  tz?: string;
  profile?: { email?: string };
}

export const DEFAULT_TTL_MS = 2 * 60_000;

export const GUEST_MESSAGE = 'Guest accounts cannot use p0: only full members of the workspace can. Ask your p0 administrator if you need access.';
export const STRANGER_MESSAGE = 'You are from another organization (Slack Connect): p0 only serves members of its own workspace.';
export const OTHER_TEAM_MESSAGE = 'Your Slack account belongs to another Slack workspace: p0 only serves members of its own workspace.';
export const NO_PIN_MESSAGE = "p0's Slack workspace is not configured (slack.teamId), so nobody can be recognised. Ask your p0 administrator.";

export interface SlackDirectoryOptions {
  /** The workspace whose members personOf accepts; without one, personOf accepts nobody. */
  workspace?: () => SlackWorkspacePin | undefined;
  ttlMs?: number;
  now?: () => number;
}

export class SlackDirectory {
  private readonly byId = new Map<string, { person: Promise<SlackPerson>; until: number }>();
  private readonly byEmail = new Map<string, { person: Promise<SlackPerson | undefined>; until: number }>();
  private readonly dmChannels = new Map<string, Promise<string>>();
  private readonly workspace: () => SlackWorkspacePin | undefined;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: webApi.WebClient,
    options: SlackDirectoryOptions = {},
  ) {
    this.workspace = options.workspace ?? (() => undefined);
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * The person behind a Slack user id, with the email p0 knows them by.
   * @throws AppError unauthenticated when Slack shows no usable email for them; forbidden for a
   * guest, a Slack Connect outsider or a member of another workspace.
   */
  personOf(userId: string): Promise<SlackPerson> {
    return this.cached(this.byId, userId, async () => {
      const answer = (await this.client.users.info({ user: userId })) as { user?: SlackUser };
      const user = answer.user;
      const profileEmail = user?.profile?.email;
      if (!user || user.deleted || user.is_bot || !profileEmail) {
        throw new AppError(
          'unauthenticated',
          "p0 cannot see an email address on your Slack profile, and your email is who you are in p0. Ask your p0 administrator to check the Slack app's users:read.email scope.",
        );
      }
      const pin = this.workspace();
      if (!pin || (!pin.teamId && !pin.enterpriseId)) throw new AppError('forbidden', NO_PIN_MESSAGE);
      if (user.is_stranger) throw new AppError('forbidden', STRANGER_MESSAGE);
      if (user.is_restricted || user.is_ultra_restricted) throw new AppError('forbidden', GUEST_MESSAGE);
      if ((pin.teamId && user.team_id !== pin.teamId) || (pin.enterpriseId && user.enterprise_user?.enterprise_id !== pin.enterpriseId)) {
        throw new AppError('forbidden', OTHER_TEAM_MESSAGE);
      }
      let email: string;
      try {
        // Who they are in p0: the one normalised form, the same as their API token's.
        email = normalizeEmail(profileEmail);
      } catch (error) {
        if (!(error instanceof InvalidEmailError)) throw error;
        throw new AppError('unauthenticated', `The email on your Slack profile cannot be your identity in p0: ${error.message}. Ask your Slack administrator to fix it.`);
      }
      return { id: userId, email, timeZone: user.tz };
    });
  }

  /** The Slack user with this email, or undefined when the workspace has none. */
  findByEmail(email: string): Promise<SlackPerson | undefined> {
    // p0's emails are normalised already (config, tokens); lower-casing here only keys the cache.
    return this.cached(this.byEmail, email.toLowerCase(), async () => {
      try {
        const answer = (await this.client.users.lookupByEmail({ email })) as { user?: SlackUser };
        const user = answer.user;
        if (!user?.id || user.deleted) return undefined;
        return { id: user.id, email, timeZone: user.tz };
      } catch (error) {
        if (slackErrorCode(error) === 'users_not_found') return undefined;
        throw error;
      }
    });
  }

  /** The bot's direct-message channel with this user (opened once, then remembered). */
  directMessageChannel(userId: string): Promise<string> {
    let channel = this.dmChannels.get(userId);
    if (!channel) {
      channel = this.client.conversations.open({ users: userId }).then((answer) => {
        const id = (answer as { channel?: { id?: string } }).channel?.id;
        if (!id) throw new Error(`conversations.open gave no channel for ${userId}`);
        return id;
      });
      this.dmChannels.set(userId, channel);
      channel.catch(() => this.dmChannels.delete(userId));
    }
    return channel;
  }

  private cached<T>(cache: Map<string, { person: Promise<T>; until: number }>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = cache.get(key);
    if (hit && hit.until > this.now()) return hit.person;
    const person = load();
    cache.set(key, { person, until: this.now() + this.ttlMs });
    // A failed look-up is asked again next time rather than remembered.
    person.catch(() => cache.delete(key));
    return person;
  }
}

/** The `error` of a Slack Web API platform error (`users_not_found`, `invalid_auth`, ...). */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}
