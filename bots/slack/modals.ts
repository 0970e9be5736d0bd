/**
 * The Slack app's modals, as pure functions (data in, view JSON out): the request modal (built from
 * what the caller may request, and read back from Slack's view state), its refusals placed under
 * the right field, the "sending" / done / failed views after a submission, and the deny modal.
 */
import { formatDuration, parseDurationMs } from '../../shared/duration';
import type { CatalogEntry } from '../../shared/catalog';
import type { RequestView } from '../../shared/request';
import { ACTION, context, option, plain, section, SELECT_OPTIONS_MAX, selectInput, VIEW, type KnownBlock, type ModalView } from './blockKit';
import { statusLine } from './messages';
import { describeAccess, escapeText, humanDuration, limit, providerLabel } from './text';

/** What the request modal holds (or was pre-filled with). */
export interface RequestForm {
  provider?: string;
  resource?: string;
  /** The level's name within the resource. */
  level?: string;
  reason?: string;
  duration?: string;
  breakGlass?: boolean;
}

/** Choices offered when a level names no presets, kept within its bounds. */
const DURATION_LADDER = ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '1d', '2d', '3d', '7d'];

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

/**
 * The form with every choice checked against what this person may request: unknown choices are
 * dropped (with everything that depends on them), and a step with a single possible answer is
 * answered. The builder and the reader both go through it, so they agree on the block ids.
 */
export function normalizeForm(catalog: readonly CatalogEntry[], form: RequestForm): RequestForm {
  const result: RequestForm = { reason: form.reason, duration: form.duration, breakGlass: form.breakGlass };
  const providers = distinct(catalog.map((entry) => entry.provider));
  result.provider = pick(providers, form.provider);
  if (result.provider === undefined) return result;
  const resources = distinct(catalog.filter((entry) => entry.provider === result.provider).map((entry) => entry.resource));
  result.resource = pick(resources, form.resource);
  if (result.resource === undefined) return result;
  const levels = catalog.filter((entry) => entry.provider === result.provider && entry.resource === result.resource).map((entry) => entry.level);
  result.level = pick(levels, form.level);
  return result;
}

/** The catalog entry the form has chosen, if it has chosen one. */
export function chosenEntry(catalog: readonly CatalogEntry[], form: RequestForm): CatalogEntry | undefined {
  if (form.level === undefined) return undefined;
  return catalog.find((entry) => entry.provider === form.provider && entry.resource === form.resource && entry.level === form.level);
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

  const providers = distinct(catalog.map((candidate) => candidate.provider));
  blocks.push(selectInput(ids.provider, ACTION.provider, 'Resource type', providers.map((provider) => option(providerLabel(provider), provider)), form.provider, 'AWS, Google Cloud, Kubernetes...'));

  if (form.provider !== undefined) {
    const resources = distinct(catalog.filter((candidate) => candidate.provider === form.provider).map((candidate) => candidate.resource));
    blocks.push(selectInput(ids.resource, ACTION.resource, 'Resource', resources.map((resource) => option(resource, resource)), form.resource, 'Which account, project or cluster'));
  }
  if (form.resource !== undefined) {
    const levels = catalog.filter((candidate) => candidate.provider === form.provider && candidate.resource === form.resource);
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
    hint: plain(reasonHint(entry)),
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
  const field = /^(reason|duration|breakGlass): /.exec(message);
  const text = limit(field ? message.slice(field[0].length) : message, 2000);
  if (field?.[1] === 'reason') return { [ids.reason]: text };
  if (field?.[1] === 'duration') return { [ids.duration]: text };
  if (field?.[1] === 'breakGlass') return { [ids.breakGlass]: text };
  if (form.level !== undefined) return { [ids.level]: text };
  if (form.resource !== undefined) return { [ids.level]: text };
  if (form.provider !== undefined) return { [ids.resource]: text };
  return { [ids.provider]: text };
}

/** The modal's answer before a level is chosen: the missing field, named. */
export function missingChoiceErrors(form: RequestForm): Record<string, string> | undefined {
  const ids = requestBlockIds(form);
  if (form.provider === undefined) return { [ids.provider]: 'Choose a resource type' };
  if (form.resource === undefined) return { [ids.resource]: 'Choose a resource' };
  if (form.level === undefined) return { [ids.level]: 'Choose an access level' };
  return undefined;
}

/** The durations offered for a level: its presets, else a ladder within its bounds with its default. */
export function durationChoices(entry: CatalogEntry, wanted?: string): string[] {
  const minMs = parseDurationMs(entry.minDuration);
  const maxMs = parseDurationMs(entry.maxDuration);
  const within = (text: string) => {
    const ms = safeDurationMs(text);
    return ms !== undefined && ms >= minMs && ms <= maxMs;
  };
  const candidates = entry.durationPresets.length > 0 ? [...entry.durationPresets] : [...DURATION_LADDER.filter(within), entry.defaultDuration, entry.maxDuration];
  if (candidates.length === 0) candidates.push(entry.minDuration);
  if (wanted !== undefined && within(wanted)) candidates.push(wanted);
  // One spelling per length (90m and 1h30m... are the same length: keep the shortest spelling).
  const byMs = new Map<number, string>();
  for (const candidate of candidates) {
    const ms = safeDurationMs(candidate);
    if (ms !== undefined) byMs.set(ms, formatDuration(ms / 1000));
  }
  return [...byMs.entries()].sort(([a], [b]) => a - b).map(([, text]) => text).slice(0, SELECT_OPTIONS_MAX);
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

function reasonHint(entry: CatalogEntry | undefined): string {
  if (entry?.reasonPatternDescription) return `Approvers see it. It must contain ${entry.reasonPatternDescription}.`;
  if (entry?.requireReason) return 'Approvers see it. This access level requires a reason.';
  return 'Approvers see it.';
}

function approvalsWording(count: number): string {
  return count === 1 ? 'one approval' : `${count} approvals`;
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function pick(choices: readonly string[], wanted: string | undefined): string | undefined {
  if (wanted !== undefined && choices.includes(wanted)) return wanted;
  return choices.length === 1 ? choices[0] : undefined;
}

function safeDurationMs(text: string): number | undefined {
  try {
    return parseDurationMs(text);
  } catch {
    return undefined;
  }
}
