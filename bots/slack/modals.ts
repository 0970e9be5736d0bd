/**
 * The Slack app's modals, as pure functions (data in, view JSON out): the request modal (built from
 * what the caller may request, and read back from Slack's view state), its refusals placed under
 * the right field, the "sending" / done / failed views after a submission, and the deny modal.
 */
import type { CatalogEntry } from '../../shared/catalog';
import type { RequestView } from '../../shared/request';
import {
  approvalsWording,
  chosenEntry,
  durationChoices as formDurationChoices,
  levelsOf,
  normalizeForm,
  providersOf,
  reasonRule,
  refusalField,
  resourcesOf,
  type RequestForm,
} from '../../shared/requestForm';
import { ACTION, context, option, plain, section, SELECT_OPTIONS_MAX, selectInput, VIEW, type KnownBlock, type ModalView } from './blockKit';
import { statusLine } from './messages';
import { describeAccess, escapeText, humanDuration, limit, providerLabel } from './text';

export { chosenEntry, normalizeForm, type RequestForm };

/** The durations the modal offers for a level (shared/requestForm.ts), as many as a Slack select holds. */
export function durationChoices(entry: CatalogEntry, wanted?: string): string[] {
  return formDurationChoices(entry, wanted, SELECT_OPTIONS_MAX);
}

/**
 * Block ids of the modal's inputs for this form. The dependent selects carry their parents in
 * their ids, so changing the resource type gives a fresh resource select (Slack keeps a user's
 * choice across views.update only while the block id stays the same).
 */
export function requestBlockIds(form: RequestForm): Record<'provider' | 'resource' | 'level' | 'reason' | 'duration' | 'breakGlass', string> {
  const levelId = form.level === undefined ? '' : `${form.provider}/${form.resource}/${form.level}`;
  return {
    provider: 'provider',
    resource: `resource:${form.provider ?? ''}`,
    level: `level:${form.provider ?? ''}/${form.resource ?? ''}`,
    reason: 'reason',
    duration: `duration:${levelId}`,
    breakGlass: `break_glass:${levelId}`,
  };
}

/** The `/p0 request` modal: resource type, then resource, then level, then reason and duration. */
export function requestModal(catalog: readonly CatalogEntry[], prefill: RequestForm = {}, privateMetadata = ''): ModalView {
  const base = { type: 'modal' as const, callback_id: VIEW.request, private_metadata: privateMetadata, title: plain('Request access') };
  if (catalog.length === 0) {
    return {
      ...base,
      close: plain('Close'),
      blocks: [section("Your organization's access policy offers you nothing to request yet. Contact your p0 administrator.")],
    };
  }
  const form = normalizeForm(catalog, prefill);
  const ids = requestBlockIds(form);
  const entry = chosenEntry(catalog, form);
  const blocks: KnownBlock[] = [];

  const providers = providersOf(catalog);
  blocks.push(selectInput(ids.provider, ACTION.provider, 'Resource type', providers.map((provider) => option(providerLabel(provider), provider)), form.provider, 'AWS, Google Cloud, Kubernetes...'));

  if (form.provider !== undefined) {
    const resources = resourcesOf(catalog, form.provider);
    blocks.push(selectInput(ids.resource, ACTION.resource, 'Resource', resources.map((resource) => option(resource, resource)), form.resource, 'Which account, project or cluster'));
  }
  if (form.resource !== undefined) {
    const levels = levelsOf(catalog, form.provider, form.resource);
    blocks.push(
      selectInput(
        ids.level,
        ACTION.level,
        'Access level',
        levels.map((level) => option(level.level, level.level, level.description ?? `${level.kind} ${level.target}`)),
        form.level,
        'What you need',
      ),
    );
  }
  if (entry) {
    blocks.push(context(`${entry.kind} ${entry.target} · ${approvalsWording(entry.approvalsRequired)}${entry.readOnly ? ' · read-only' : ''}`));
  }

  blocks.push({
    type: 'input',
    block_id: ids.reason,
    optional: !entry?.requireReason,
    label: plain('Reason'),
    hint: plain(reasonRule(entry)),
    element: {
      type: 'plain_text_input',
      action_id: ACTION.reason,
      multiline: true,
      max_length: 2000,
      ...(form.reason ? { initial_value: form.reason } : {}),
      placeholder: plain('Why you need it, e.g. deploy hotfix INC-42'),
    },
  });

  if (entry) {
    const choices = durationChoices(entry, form.duration);
    const initial = choices.includes(form.duration ?? '') ? form.duration : entry.defaultDuration;
    blocks.push(selectInput(ids.duration, ACTION.duration, 'Duration', choices.map((choice) => option(humanDuration(choice), choice)), initial, 'How long', false));
    if (entry.breakGlass) {
      const breakGlassOption = option(
        'Break-glass: emergency access now, without approval',
        'yes',
        `at most ${humanDuration(entry.breakGlass.maxDuration)}; approvers review it afterwards`,
      );
      blocks.push({
        type: 'input',
        block_id: ids.breakGlass,
        optional: true,
        label: plain('Emergency'),
        element: {
          type: 'checkboxes',
          action_id: ACTION.breakGlass,
          options: [breakGlassOption],
          ...(form.breakGlass ? { initial_options: [breakGlassOption] } : {}),
        },
      });
    }
  }

  return { ...base, submit: plain('Request'), close: plain('Cancel'), blocks };
}

/** Slack's `view.state.values`: block id -> action id -> value. */
export type ViewStateValues = Record<string, Record<string, { selected_option?: { value: string } | null; value?: string | null; selected_options?: Array<{ value: string }> | null }>>;

/** Reads the modal's state back into a form, following the same block ids the builder used. */
export function readRequestForm(catalog: readonly CatalogEntry[], values: ViewStateValues): RequestForm {
  const selected = (blockId: string, actionId: string) => values[blockId]?.[actionId]?.selected_option?.value ?? undefined;
  const raw: RequestForm = {};
  raw.provider = selected('provider', ACTION.provider);
  raw.resource = selected(requestBlockIds(normalizeForm(catalog, raw)).resource, ACTION.resource);
  raw.level = selected(requestBlockIds(normalizeForm(catalog, raw)).level, ACTION.level);
  const form = normalizeForm(catalog, raw);
  const ids = requestBlockIds(form);
  const reason = values[ids.reason]?.[ACTION.reason]?.value;
  if (reason) form.reason = reason;
  const duration = selected(ids.duration, ACTION.duration);
  if (duration) form.duration = duration;
  form.breakGlass = (values[ids.breakGlass]?.[ACTION.breakGlass]?.selected_options ?? []).some((choice) => choice.value === 'yes');
  return form;
}

/**
 * Where a request-service refusal belongs in the modal: "reason: ..." under the reason, "duration:
 * ..." under the duration, and anything about what was asked for under the access level.
 */
export function modalErrors(form: RequestForm, message: string): Record<string, string> {
  const ids = requestBlockIds(form);
  const { field, text } = refusalField(form, message);
  // The modal has no scheduled start: a refusal of one belongs with what was asked for.
  const blockId = field === 'startAt' ? ids.level : ids[field];
  return { [blockId]: limit(text, 2000) };
}

/** The modal's answer before a level is chosen: the missing field, named. */
export function missingChoiceErrors(form: RequestForm): Record<string, string> | undefined {
  const ids = requestBlockIds(form);
  if (form.provider === undefined) return { [ids.provider]: 'Choose a resource type' };
  if (form.resource === undefined) return { [ids.resource]: 'Choose a resource' };
  if (form.level === undefined) return { [ids.level]: 'Choose an access level' };
  return undefined;
}


/** Shown in place of the modal while a slow submission is still on its way. */
export function submittingModal(): ModalView {
  return { type: 'modal', callback_id: VIEW.request, title: plain('Request access'), close: plain('Close'), blocks: [section('⏳ Sending your request...')] };
}

/** The modal after a successful submission. */
export function submittedModal(view: RequestView): ModalView {
  return {
    type: 'modal',
    callback_id: VIEW.request,
    title: plain('Access requested'),
    close: plain('Done'),
    blocks: [
      section(`*${view.id}*: ${describeAccess(view)} for ${humanDuration(view.duration)}`),
      context(statusLine('requested', view)),
      context("I'll send you a direct message with your request and update it as it changes."),
    ],
  };
}

/** The modal when a submission that outlived the 3-second window failed afterwards. */
export function failedModal(message: string): ModalView {
  return { type: 'modal', callback_id: VIEW.request, title: plain('Request access'), close: plain('Close'), blocks: [section(`:warning: ${escapeText(message)}`)] };
}

/** Carried through the deny modal: the request, and where to answer the approver privately. */
export interface DenyContext {
  requestId: string;
  /** What the Deny button was for: the request, or an extension by id (see decisionButtonValue). */
  subject?: string;
  channel?: string;
}

export const DENY_COMMENT_BLOCK = 'deny_comment';

export function denyModal(deny: DenyContext): ModalView {
  return {
    type: 'modal',
    callback_id: VIEW.deny,
    private_metadata: JSON.stringify(deny),
    title: plain('Deny request'),
    submit: plain('Deny'),
    close: plain('Back'),
    blocks: [
      section(`Deny *${deny.requestId}*? The requester sees your reason.`),
      {
        type: 'input',
        block_id: DENY_COMMENT_BLOCK,
        label: plain('Reason'),
        element: { type: 'plain_text_input', action_id: ACTION.denyComment, multiline: true, max_length: 2000 },
      },
    ],
  };
}
