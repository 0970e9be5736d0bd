/**
 * The Slack channel: `/p0` and the buttons of p0's messages, received by Bolt at /slack/events in
 * the API's own HTTP server. A thin adapter over the request service, like the API: the Slack user's
 * email is the caller, the service decides everything, and its errors are shown to the person who
 * acted (inline in a modal, or as a message only they see).
 *
 * Every listener acknowledges first: Slack shows an error when it has no answer within 3 seconds, so
 * a slow Temporal or Slack call must never come before ack(). The one exception is a modal
 * submission, whose validation errors can only travel in the ack: it waits for the request service
 * up to a budget well inside the 3 seconds, and past it answers "sending..." and reports later.
 */
import { App, ExpressReceiver, type BlockButtonAction, type BlockStaticSelectAction, type RespondFn, type ViewSubmitAction } from '@slack/bolt';
import express from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../service/errors';
import type { Caller } from '../../service/policy';
import { createRequestBody } from '../../shared/requestGrammar';
import type { RequestService } from '../../service/requestService';
import type { RequestView } from '../../shared/request';
import { ACTION, VIEW } from './blockKit';
import { createdReply, decidedNote, helpText, parseDecisionButtonValue } from './messages';
import {
  DENY_COMMENT_BLOCK,
  denyModal,
  failedModal,
  missingChoiceErrors,
  modalErrors,
  readRequestForm,
  requestModal,
  submittedModal,
  submittingModal,
  type DenyContext,
  type ViewStateValues,
} from './modals';
import { describeAccess } from './text';
import { interpretSlashCommand, prefillForm, type RequestPrefill } from './commands';
import { NO_PIN_MESSAGE, SlackDirectory } from './directory';
import { slackLogger } from './logging';
import { createWebClient, webClientOptions, type SlackSettings, type SlackWorkspacePin } from './settings';

/** Where Slack sends slash commands and interactions (the manifest's URLs end with it). */
export const SLACK_EVENTS_PATH = '/slack/events';
/** How long a modal submission waits for the request service before answering Slack without it. */
const DEFAULT_SUBMIT_BUDGET_MS = 2_000;
const SERVER_ERROR_MESSAGE = 'Something went wrong on the server; it has been logged. Try again in a moment.';
/** Slash commands and interactions are small; anything bigger is refused (413) before its signature is checked. */
export const SLACK_MAX_BODY_BYTES = 64 * 1024;
export const OTHER_WORKSPACE_MESSAGE = 'This p0 only serves its own Slack workspace: requests from other workspaces are refused.';

/** The part of the request service the Slack channel uses. */
export type SlackRequestService = Pick<RequestService, 'resources' | 'create' | 'get' | 'approve' | 'deny' | 'relinquish' | 'cancel' | 'review' | 'revoke'>;

export interface SlackAppOptions {
  service: SlackRequestService;
  settings: SlackSettings;
  logger: Logger;
  /** The workspace p0 serves (the config's slack.teamId / slack.enterpriseId, read at each request). */
  workspace: () => SlackWorkspacePin | undefined;
  /** See DEFAULT_SUBMIT_BUDGET_MS. */
  submitBudgetMs?: number;
}

/**
 * The Bolt app behind an express router that answers POST /slack/events. Mount it before any body
 * parser: Bolt reads the raw body to check Slack's signature (and refuses requests older than five
 * minutes).
 */
export function createSlackRouter(options: SlackAppOptions): express.Router {
  const { service, settings, logger } = options;
  const submitBudgetMs = options.submitBudgetMs ?? DEFAULT_SUBMIT_BUDGET_MS;
  const boltLogger = slackLogger(logger);
  const client = createWebClient(settings, { retries: 1, logger: boltLogger });
  const directory = new SlackDirectory(client, { workspace: options.workspace });

  const router = express.Router();
  const receiver = new ExpressReceiver({
    signingSecret: settings.signingSecret,
    signatureVerification: true,
    endpoints: SLACK_EVENTS_PATH,
    router,
    logger: boltLogger,
    // Read (and refused past the limit) before the signature is checked: Bolt's default is 4 MB.
    bodyLimit: SLACK_MAX_BODY_BYTES,
  });
  const app = new App({
    receiver,
    // One workspace, one bot token from the environment. Handing it over here (rather than as
    // `token`) keeps Bolt from calling auth.test before acknowledging each request.
    authorize: () => Promise.resolve({ botToken: settings.botToken }),
    clientOptions: webClientOptions(settings),
    logger: boltLogger,
    convoStore: false,
  });
  app.error((error) => {
    logger.error({ err: error }, 'Slack listener failed');
    return Promise.resolve();
  });

  // Before every listener: a correctly signed request may still come from another workspace the app
  // is installed in. Refused with a message only the sender sees, before anyone is looked up.
  app.use(async (args) => {
    const pin = options.workspace();
    const origin = originOf(args.body);
    if (pin && isPinned(origin, pin)) return args.next();
    logger.warn({ origin, pinned: pin ?? null }, 'Slack request from another workspace refused');
    await refuse(args as unknown as Refusable, pin ? OTHER_WORKSPACE_MESSAGE : NO_PIN_MESSAGE);
  });

  async function callerOf(userId: string): Promise<Caller> {
    const person = await directory.personOf(userId);
    return { email: person.email, admin: false };
  }

  /** A person-facing message for an error; anything unexpected is logged and summarized. */
  function describeError(error: unknown, context: Record<string, unknown>): string {
    if (error instanceof AppError) return error.message;
    logger.error({ err: error, ...context }, 'Slack interaction failed');
    return SERVER_ERROR_MESSAGE;
  }

  /** A message only this person sees, where they acted; their DM with the bot when that is not possible. */
  async function tellPrivately(userId: string, channel: string | undefined, text: string, respond?: RespondFn): Promise<void> {
    if (channel) {
      try {
        await client.chat.postEphemeral({ channel, user: userId, text });
        return;
      } catch (error) {
        logger.debug({ err: error, channel }, 'chat.postEphemeral failed; answering another way');
      }
    }
    if (respond) {
      await respond({ response_type: 'ephemeral', replace_original: false, text });
      return;
    }
    await client.chat.postMessage({ channel: await directory.directMessageChannel(userId), text });
  }

  // ---- /p0 ------------------------------------------------------------------------------------

  app.command(/.*/, async ({ command, ack, respond }) => {
    const intent = interpretSlashCommand(command.text);
    switch (intent.kind) {
      case 'help':
        await ack({ response_type: 'ephemeral', text: helpText() });
        return;
      case 'error':
        await ack({ response_type: 'ephemeral', text: intent.message });
        return;
      case 'modal':
        await ack();
        await openRequestModal(command.user_id, command.trigger_id, intent.prefill, respond);
        return;
      case 'request': {
        const { parsed } = intent;
        await ack({ response_type: 'ephemeral', text: `:hourglass_flowing_sand: Requesting ${describeAccess(parsed)}...` });
        let text: string;
        try {
          const created = await service.create(await callerOf(command.user_id), createRequestBody(parsed));
          text = createdReply(created);
        } catch (error) {
          text = `:warning: ${describeError(error, { command: command.text })}`;
        }
        await respond({ response_type: 'ephemeral', replace_original: true, text });
        return;
      }
    }
  });

  async function openRequestModal(userId: string, triggerId: string, prefill: RequestPrefill, respond: RespondFn): Promise<void> {
    try {
      const catalog = service.resources(await callerOf(userId));
      await client.views.open({ trigger_id: triggerId, view: requestModal(catalog, prefillForm(catalog, prefill)) });
    } catch (error) {
      await respond({ response_type: 'ephemeral', text: `:warning: ${describeError(error, { userId })}` });
    }
  }

  // ---- the request modal ------------------------------------------------------------------------

  /** A choice in a dependent select: the next selects are rebuilt from the catalog. */
  const refreshModal = async ({ ack, body }: { ack: () => Promise<void>; body: BlockStaticSelectAction }) => {
    await ack();
    const view = body.view;
    if (!view) return;
    try {
      const catalog = service.resources(await callerOf(body.user.id));
      const form = readRequestForm(catalog, view.state.values);
      await client.views.update({ view_id: view.id, hash: view.hash, view: requestModal(catalog, form, view.private_metadata) });
    } catch (error) {
      // hash_conflict: a later choice already rebuilt the modal.
      logger.warn({ err: error, viewId: view.id }, 'could not refresh the request modal');
    }
  };
  app.action<BlockStaticSelectAction>(ACTION.provider, refreshModal);
  app.action<BlockStaticSelectAction>(ACTION.resource, refreshModal);
  app.action<BlockStaticSelectAction>(ACTION.level, refreshModal);

  app.view<ViewSubmitAction>(VIEW.request, async ({ ack, body, view }) => {
    type Answer = Parameters<typeof ack>[0];
    const submission = (async (): Promise<Answer> => {
      const caller = await callerOf(body.user.id);
      const catalog = service.resources(caller);
      const form = readRequestForm(catalog, view.state.values);
      const missing = missingChoiceErrors(form);
      if (missing) return { response_action: 'errors', errors: missing };
      try {
        const created = await service.create(caller, {
          provider: form.provider,
          resource: form.resource,
          level: form.level,
          reason: form.reason ?? '',
          ...(form.duration ? { duration: form.duration } : {}),
          ...(form.breakGlass ? { breakGlass: true } : {}),
        });
        return { response_action: 'update', view: submittedModal(created) };
      } catch (error) {
        if (error instanceof AppError) return { response_action: 'errors', errors: modalErrors(form, error.message) };
        throw error;
      }
    })();
    const failed = (error: unknown): Answer => ({ response_action: 'update', view: failedModal(describeError(error, { userId: body.user.id })) });
    const settled = submission.catch(failed);
    const inTime = await withinBudget(settled, submitBudgetMs);
    if (inTime.done) {
      await ack(inTime.value);
      return;
    }
    await ack({ response_action: 'update', view: submittingModal() });
    const answer = await settled;
    const finalView = answer?.response_action === 'update' ? answer.view : failedModal(Object.values(answer?.response_action === 'errors' ? answer.errors : {}).join('\n') || SERVER_ERROR_MESSAGE);
    try {
      await client.views.update({ view_id: view.id, view: finalView });
    } catch (error) {
      logger.warn({ err: error, viewId: view.id }, 'could not show the outcome of a slow request submission');
    }
  });

  // ---- buttons on p0's messages -------------------------------------------------------------------

  /** A button's request-service call as the person who clicked; refusals go to them alone. */
  async function actAs(userId: string, channel: string | undefined, requestId: string, call: (caller: Caller) => Promise<RequestView>, respond?: RespondFn): Promise<void> {
    let caller: Caller | undefined;
    try {
      caller = await callerOf(userId);
      await call(caller);
    } catch (error) {
      let text = describeError(error, { userId, requestId });
      if (caller && error instanceof AppError && error.code === 'conflict') text += await decidedNoteFor(caller, requestId, text);
      await tellPrivately(userId, channel, `:warning: ${text}`, respond);
    }
  }

  /** " (approved by bob@example.com)" when a refusal does not already say who decided. */
  async function decidedNoteFor(caller: Caller, requestId: string, message: string): Promise<string> {
    try {
      return decidedNote(await service.get(caller, requestId), message);
    } catch {
      return '';
    }
  }

  const buttonAction = (call: (service: SlackRequestService, caller: Caller, requestId: string, subject?: string) => Promise<RequestView>) =>
    async ({ ack, body, action, respond }: { ack: () => Promise<void>; body: BlockButtonAction; action: BlockButtonAction['actions'][number]; respond: RespondFn }) => {
      await ack();
      const { requestId, subject } = parseDecisionButtonValue(action.value ?? '');
      await actAs(body.user.id, body.channel?.id, requestId, (caller) => call(service, caller, requestId, subject), respond);
    };
  app.action<BlockButtonAction>(ACTION.approve, buttonAction((requests, caller, id, subject) => requests.approve(caller, id, undefined, subject)));
  app.action<BlockButtonAction>(ACTION.relinquish, buttonAction((requests, caller, id) => requests.relinquish(caller, id)));
  app.action<BlockButtonAction>(ACTION.cancel, buttonAction((requests, caller, id) => requests.cancel(caller, id)));
  app.action<BlockButtonAction>(ACTION.review, buttonAction((requests, caller, id) => requests.review(caller, id)));
  app.action<BlockButtonAction>(ACTION.revoke, buttonAction((requests, caller, id) => requests.revoke(caller, id)));

  // Deny asks for a reason first.
  app.action<BlockButtonAction>(ACTION.deny, async ({ ack, body, action, respond }) => {
    await ack();
    const deny: DenyContext = { ...parseDecisionButtonValue(action.value ?? ''), channel: body.channel?.id };
    try {
      await client.views.open({ trigger_id: body.trigger_id, view: denyModal(deny) });
    } catch (error) {
      await tellPrivately(body.user.id, body.channel?.id, `:warning: ${describeError(error, { requestId: deny.requestId })}`, respond);
    }
  });

  app.view<ViewSubmitAction>(VIEW.deny, async ({ ack, body, view }) => {
    const deny = parseDenyContext(view.private_metadata);
    const comment = (view.state.values as ViewStateValues)[DENY_COMMENT_BLOCK]?.[ACTION.denyComment]?.value?.trim() ?? '';
    if (!deny || comment === '') {
      await ack({ response_action: 'errors', errors: { [DENY_COMMENT_BLOCK]: 'Say why you deny it: the requester sees it' } });
      return;
    }
    await ack();
    await actAs(body.user.id, deny.channel, deny.requestId, (caller) => service.deny(caller, deny.requestId, comment, deny.subject));
  });

  return router;
}

/** Where a payload says it comes from: its workspace, the acting user's workspace, the organization. */
interface PayloadOrigin {
  teams: string[];
  enterprises: string[];
}

function originOf(body: unknown): PayloadOrigin {
  const payload = (body ?? {}) as {
    team_id?: unknown;
    enterprise_id?: unknown;
    team?: { id?: unknown } | null;
    enterprise?: { id?: unknown } | null;
    user?: { team_id?: unknown } | null;
  };
  const strings = (values: unknown[]) => values.filter((value): value is string => typeof value === 'string' && value !== '');
  return {
    teams: strings([payload.team_id, payload.team?.id, payload.user?.team_id]),
    enterprises: strings([payload.enterprise_id, payload.enterprise?.id]),
  };
}

/** Every workspace (and organization) the payload names is the pinned one, and it names one. */
function isPinned(origin: PayloadOrigin, pin: SlackWorkspacePin): boolean {
  if (!pin.teamId && !pin.enterpriseId) return false;
  const matches = (ids: string[], pinned: string | undefined) => pinned === undefined || (ids.length > 0 && ids.every((id) => id === pinned));
  return matches(origin.teams, pin.teamId) && matches(origin.enterprises, pin.enterpriseId);
}

/** The parts of Bolt's middleware arguments a refusal answers through (which exist depends on the payload). */
interface Refusable {
  body: { type?: string; command?: string };
  ack?: (answer?: object) => Promise<void>;
  respond?: RespondFn;
}

/** Tells only the sender why nothing happens: in the command's answer, the modal, or an ephemeral reply. */
async function refuse({ body, ack, respond }: Refusable, text: string): Promise<void> {
  if (!ack) return;
  if (body.command !== undefined) return ack({ response_type: 'ephemeral', text: `:no_entry: ${text}` });
  if (body.type === 'view_submission') return ack({ response_action: 'update', view: failedModal(text) });
  await ack();
  if (respond) await respond({ response_type: 'ephemeral', replace_original: false, text: `:no_entry: ${text}` });
}

function parseDenyContext(text: string): DenyContext | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<DenyContext>;
    if (typeof parsed.requestId !== 'string') return undefined;
    return { requestId: parsed.requestId, subject: typeof parsed.subject === 'string' ? parsed.subject : undefined, channel: parsed.channel };
  } catch {
    return undefined;
  }
}

/** The promise's value if it settles within `ms`, else `{ done: false }` (the promise keeps running). */
async function withinBudget<T>(promise: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
