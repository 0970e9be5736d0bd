/**
 * Who is who in Slack. A Slack user's email address (`users.info`, scope users:read.email) is their
 * identity in p0, the same one the API's tokens and Teams carry; the other way round, an email finds
 * the person to message (`users.lookupByEmail`) and their direct-message channel
 * (`conversations.open`). Answers are cached: they rarely change, and an interaction has seconds.
 */
import type { webApi } from '@slack/bolt';
import { AppError } from '../../service/errors';
import { InvalidEmailError, normalizeEmail } from '../../service/identity';

export interface SlackPerson {
  /** Slack user id, e.g. U0123ABCD. */
  id: string;
  email: string;
  /** IANA time zone from the Slack profile, when Slack has one. */
  timeZone?: string;
}

interface SlackUser {
  id?: string;
  deleted?: boolean;
  is_bot?: boolean;
  tz?: string;
  profile?: { email?: string };
}

const DEFAULT_TTL_MS = 10 * 60_000;

export class SlackDirectory {
  private readonly byId = new Map<string, { person: Promise<SlackPerson>; until: number }>();
  private readonly byEmail = new Map<string, { person: Promise<SlackPerson | undefined>; until: number }>();
  private readonly dmChannels = new Map<string, Promise<string>>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly ttlMs = DEFAULT_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The person behind a Slack user id, with the email p0 knows them by.
   * @throws AppError (unauthenticated) when Slack shows no usable email for them.
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
