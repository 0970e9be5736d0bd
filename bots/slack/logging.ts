/** Bolt's and the Slack client's log lines, written through the product's pino logger. */
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';

const LEVELS: readonly LogLevel[] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

export function slackLogger(logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>, name = 'slack'): SlackLogger {
  let level: LogLevel = LogLevel.INFO;
  const line = (parts: unknown[]) => parts.map((part) => (part instanceof Error ? part.message : typeof part === 'string' ? part : JSON.stringify(part))).join(' ');
  const write = (at: LogLevel, method: 'debug' | 'info' | 'warn' | 'error') => (...parts: unknown[]) => {
    if (LEVELS.indexOf(at) >= LEVELS.indexOf(level)) logger[method]({ component: name }, line(parts));
  };
  return {
    debug: write(LogLevel.DEBUG, 'debug'),
    info: write(LogLevel.INFO, 'info'),
    warn: write(LogLevel.WARN, 'warn'),
    error: write(LogLevel.ERROR, 'error'),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: (next: string) => {
      name = next;
    },
  };
}
