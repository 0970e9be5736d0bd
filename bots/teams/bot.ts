/**
 * What the Teams bot does with each authenticated activity: a thin adapter over the request service,
 * like the Slack app. The caller is the activity's sender resolved to an email (directory.ts); the
 * service decides everything, and its refusals are shown on the card of the person who acted.
 *
 * - a message (`@P0 request`, `@P0 request aws role AdminRole --reason ...`, `@P0 help`) in a
 *   channel, group chat or 1:1 chat: the request card, a one-line request, or help;
 * - an Action.Execute on a card: `request` (the form), `approve`, `deny`, `cancel`, `relinquish`,
 *   and `refresh` (Teams asking for the card of the person looking at it);
 * - every activity: the conversation's reference is remembered, with its person for a 1:1 chat, so
 *   the worker's notifier can message and update cards there later.
 */
import type { Logger } from 'pino';
import { AppError } from '../../service/errors';
import type { Caller } from '../../service/policy';
import type { RequestService } from '../../service/requestService';
import type { TeamsStore } from '../../db/teamsStore';
import { interpretRequestCommand, prefillForm } from '../../shared/requestCommand';
import { createRequestBody, requestUsage } from '../../shared/requestGrammar';
import type { RequestView } from '../../shared/request';
import type { AdaptiveCard, CardAction, TeamsBotLogic, TeamsTurn } from './botFramework';
import { errorCard, formErrorOf, helpText, readFormData, requestCard, requestFormCard, statusLine, VERB, INPUT, type CardAudience } from './cards';
import { OTHER_TENANT_MESSAGE, TeamsDirectory, type TeamsPerson } from './directory';

/** The part of the request service the Teams bot uses. */
export type TeamsRequestService = Pick<RequestService, 'resources' | 'create' | 'get' | 'approve' | 'deny' | 'relinquish' | 'cancel'>;

/** What the bot remembers (db/teamsStore.ts implements it). */
export type TeamsRecords = Pick<TeamsStore, 'saveConversation' | 'saveUser' | 'userIds' | 'conversation' | 'personalConversation'>;

export interface TeamsBotOptions {
  service: TeamsRequestService;
  records: TeamsRecords;
  tenantId: string;
  logger: Logger;
}

const SERVER_ERROR_MESSAGE = 'Something went wrong on the server; it has been logged. Try again in a moment.';
const REQUEST_ID = /^req_[0-9A-Z]{26}$/;

export function createTeamsBot(options: TeamsBotOptions): TeamsBotLogic {
  const { service, records, logger } = options;
  const directory = new TeamsDirectory(options.tenantId);

  /** A person-facing message for an error; anything unexpected is logged and summarized. */
  function describeError(error: unknown, context: Record<string, unknown>): string {
    if (error instanceof AppError) return error.message;
    logger.error({ err: error, ...context }, 'Teams interaction failed');
    return SERVER_ERROR_MESSAGE;
  }

  async function identify(turn: TeamsTurn): Promise<TeamsPerson> {
    const person = await directory.personOf(turn);
    await records.saveUser({ email: person.email, userId: person.userId, aadObjectId: person.aadObjectId });
    return person;
  }

  const callerOf = (person: TeamsPerson): Caller => ({ email: person.email, admin: false });

  /** Remembers the conversation; a 1:1 chat with the person in it (when they can be identified). */
  async function remember(turn: TeamsTurn, person: TeamsPerson | undefined): Promise<void> {
    const { activity } = turn;
    if (!activity.conversationId || !activity.serviceUrl) return;
    const personal = activity.conversationType === 'personal';
    await records.saveConversation({
      conversationId: activity.conversationId,
      conversationType: activity.conversationType,
      personalEmail: personal ? person?.email : undefined,
      reference: turn.reference(),
    });
  }

  /** The Teams user ids whose clients ask for their own rendering of this card. */
  async function refreshUserIds(view: RequestView, audience: CardAudience): Promise<string[]> {
    const people = audience === 'requester' ? [view.requester] : view.approvers.filter((approver) => approver !== view.requester);
    return [...(await records.userIds(people)).values()];
  }

  async function renderFor(view: RequestView, audience: CardAudience, viewer: string, error?: string): Promise<AdaptiveCard> {
    return requestCard(view, { audience, viewer, userIds: await refreshUserIds(view, audience), error });
  }

  async function onMessage(turn: TeamsTurn, person: TeamsPerson): Promise<void> {
    const intent = interpretRequestCommand(turn.activity.text, 'teams');
    switch (intent.kind) {
      case 'help':
        await turn.sendText(helpText(requestUsage('teams')));
        return;
      case 'error':
        await turn.sendText(`⚠️ ${intent.message.replace(/\n/g, '\n\n')}`);
        return;
      case 'form': {
        const catalog = service.resources(callerOf(person));
        await turn.send(requestFormCard(catalog, prefillForm(catalog, intent.prefill)), 'Request access');
        return;
      }
      case 'request': {
        let created: RequestView;
        try {
          created = await service.create(callerOf(person), createRequestBody(intent.parsed));
        } catch (error) {
          await turn.sendText(`⚠️ ${describeError(error, { text: turn.activity.text })}`);
          return;
        }
        await turn.send(await renderFor(created, 'requester', person.email), `${created.id}: ${statusLine('requested', created)}`);
        return;
      }
    }
  }

  async function onRequestForm(person: TeamsPerson, data: Record<string, unknown>): Promise<AdaptiveCard> {
    const caller = callerOf(person);
    const catalog = service.resources(caller);
    const read = readFormData(catalog, data);
    if (read.error || !read.entry) return requestFormCard(catalog, read.form, read.error);
    try {
      const created = await service.create(caller, {
        provider: read.entry.provider,
        resource: read.entry.resource,
        level: read.entry.level,
        reason: read.form.reason ?? '',
        ...(read.form.duration ? { duration: read.form.duration } : {}),
      });
      return await renderFor(created, 'requester', person.email);
    } catch (error) {
      if (error instanceof AppError) return requestFormCard(catalog, read.form, formErrorOf(error.message));
      throw error;
    }
  }

  /** A click on a request's card, as the person who clicked: the card for them afterwards, or with the refusal on it. */
  async function onRequestAction(person: TeamsPerson, action: CardAction): Promise<AdaptiveCard> {
    const requestId = typeof action.data.requestId === 'string' ? action.data.requestId : '';
    if (!REQUEST_ID.test(requestId)) return errorCard('This card names no request p0 knows.');
    const audience: CardAudience = action.data.card === 'approvers' ? 'approvers' : 'requester';
    const subject = typeof action.data.subject === 'string' ? action.data.subject : undefined;
    const caller = callerOf(person);
    try {
      let view: RequestView;
      switch (action.verb) {
        case VERB.refresh:
          view = await service.get(caller, requestId);
          break;
        case VERB.approve:
          view = await service.approve(caller, requestId, undefined, subject);
          break;
        case VERB.deny: {
          const comment = typeof action.data[INPUT.comment] === 'string' ? (action.data[INPUT.comment] as string).trim() : '';
          if (comment === '') throw new AppError('bad_request', 'Say why you deny it: the requester sees it');
          view = await service.deny(caller, requestId, comment, subject);
          break;
        }
        case VERB.cancel:
          view = await service.cancel(caller, requestId);
          break;
        case VERB.relinquish:
          view = await service.relinquish(caller, requestId);
          break;
        default:
          return errorCard(`This card asks for "${action.verb.slice(0, 40)}", which this p0 does not know.`);
      }
      return await renderFor(view, audience, person.email);
    } catch (error) {
      const message = describeError(error, { requestId, verb: action.verb });
      try {
        // The request as this person may see it, with the refusal on top; nothing has changed.
        return await renderFor(await service.get(caller, requestId), audience, person.email, message);
      } catch {
        return errorCard(message);
      }
    }
  }

  return {
    async onActivity(turn) {
      const { activity } = turn;
      if (!directory.fromOwnTenant(turn)) {
        logger.warn({ tenantId: activity.tenantId ?? null, type: activity.type }, 'Teams activity from another tenant refused');
        if (activity.type === 'message') await turn.sendText(`⛔ ${OTHER_TENANT_MESSAGE}`);
        return;
      }
      const identifies = activity.type === 'message' || activity.conversationType === 'personal';
      let person: TeamsPerson | undefined;
      let refusal: string | undefined;
      if (identifies) {
        try {
          person = await identify(turn);
        } catch (error) {
          refusal = describeError(error, { type: activity.type });
        }
      }
      await remember(turn, person);
      if (activity.type !== 'message') {
        if (activity.botAdded && activity.conversationType === 'personal' && person) await turn.sendText(helpText(requestUsage('teams')));
        return;
      }
      if (!person) {
        await turn.sendText(`⛔ ${refusal ?? SERVER_ERROR_MESSAGE}`);
        return;
      }
      try {
        await onMessage(turn, person);
      } catch (error) {
        await turn.sendText(`⚠️ ${describeError(error, { text: activity.text })}`);
      }
    },

    async onCardAction(turn, action) {
      let person: TeamsPerson;
      try {
        person = await identify(turn);
      } catch (error) {
        return errorCard(describeError(error, { verb: action.verb }));
      }
      try {
        await remember(turn, person);
        if (action.verb === VERB.request) return await onRequestForm(person, action.data);
        return await onRequestAction(person, action);
      } catch (error) {
        return errorCard(describeError(error, { verb: action.verb }));
      }
    },
  };
}
