/**
 * The Block Kit vocabulary the Slack app's payloads are made of: the ids of every modal and
 * interactive element (the builders set them, the listeners in app.ts route on them), and the small
 * element builders modals.ts and messages.ts share.
 */
import type { types } from '@slack/bolt';
import { limit } from './text';

export type KnownBlock = types.KnownBlock;
export type ModalView = types.ModalView;
export type PlainTextOption = types.PlainTextOption;

/** Callback ids of the modals. */
export const VIEW = {
  request: 'p0_request',
  deny: 'p0_deny',
} as const;

/** Action ids of every interactive element. */
export const ACTION = {
  provider: 'p0_provider',
  resource: 'p0_resource',
  level: 'p0_level',
  reason: 'p0_reason',
  duration: 'p0_duration',
  breakGlass: 'p0_break_glass',
  denyComment: 'p0_deny_comment',
  approve: 'p0_approve',
  deny: 'p0_deny',
  relinquish: 'p0_relinquish',
  cancel: 'p0_cancel',
  review: 'p0_review',
  revoke: 'p0_revoke',
} as const;

/** A message for chat.postMessage / chat.update. */
export interface ChatMessage {
  /** Notification and accessibility text. */
  text: string;
  blocks: KnownBlock[];
}

/** Slack's limits: option text 75 characters, select options 100, modal title 24. */
export const OPTION_TEXT_MAX = 75;
export const SELECT_OPTIONS_MAX = 100;

/** A select; `dispatch` when choosing in it rebuilds the modal (the dependent selects). */
export function selectInput(blockId: string, actionId: string, label: string, options: PlainTextOption[], initialValue: string | undefined, placeholder: string, dispatch = true): types.InputBlock {
  const initial = options.find((candidate) => candidate.value === initialValue);
  return {
    type: 'input',
    block_id: blockId,
    dispatch_action: dispatch,
    label: plain(label),
    element: {
      type: 'static_select',
      action_id: actionId,
      placeholder: plain(placeholder),
      options: options.slice(0, SELECT_OPTIONS_MAX),
      ...(initial ? { initial_option: initial } : {}),
    },
  };
}

export function option(text: string, value: string, description?: string): PlainTextOption {
  return { text: plain(limit(text, OPTION_TEXT_MAX)), value, ...(description ? { description: plain(limit(description, OPTION_TEXT_MAX)) } : {}) };
}

export function button(actionId: string, text: string, value: string, style?: 'primary' | 'danger', confirmation?: types.ConfirmationDialog): types.Button {
  return { type: 'button', action_id: actionId, text: plain(text), value, ...(style ? { style } : {}), ...(confirmation ? { confirm: confirmation } : {}) };
}

export function confirm(title: string, text: string, yes: string): types.ConfirmationDialog {
  return { title: plain(title), text: plain(text), confirm: plain(yes), deny: plain('Back') };
}

export function section(text: string): types.SectionBlock {
  return { type: 'section', text: mrkdwn(limit(text, 3000)) };
}

export function context(text: string): types.ContextBlock {
  return { type: 'context', elements: [mrkdwn(limit(text, 3000))] };
}

export function plain(text: string): types.PlainTextElement {
  return { type: 'plain_text', text, emoji: true };
}

export function mrkdwn(text: string): types.MrkdwnElement {
  return { type: 'mrkdwn', text };
}
