/**
 * Words about requests for people to read in Slack: the chat-neutral wording (shared/requestWords.ts)
 * and Slack's own escaping of what people typed (mrkdwn).
 */
export { andList, capitalize, clockTime, describeAccess, humanDuration, limit, orList, providerLabel } from '../../shared/requestWords';

/** mrkdwn control characters in text people typed (reasons, comments, error messages). */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
