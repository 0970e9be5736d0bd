/**
 * What `/p0 <text>` asks for: the chats' shared reading of a command (shared/requestCommand.ts), in
 * Slack's words (the form is a modal). Pure.
 */
import type { ParsedRequest } from '../../shared/requestGrammar';
import { interpretRequestCommand, type RequestPrefill } from '../../shared/requestCommand';

export { prefillForm, type RequestPrefill } from '../../shared/requestCommand';

export type SlashCommandIntent =
  | { kind: 'help' }
  /** Open the request modal, pre-filled with what the words named. */
  | { kind: 'modal'; prefill: RequestPrefill }
  /** A complete one-line request. */
  | { kind: 'request'; parsed: ParsedRequest }
  /** A mistake, in the grammar's words (ends with the usage line). */
  | { kind: 'error'; message: string };

export function interpretSlashCommand(text: string): SlashCommandIntent {
  const intent = interpretRequestCommand(text, 'slack');
  return intent.kind === 'form' ? { kind: 'modal', prefill: intent.prefill } : intent;
}
