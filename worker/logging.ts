/**
 * Routes the Temporal SDK's own log lines (worker state, bundling, activity failures) and the
 * workflows' and activities' `log` calls into the product's pino logger, so one process writes one
 * log. The SDK's own INFO chatter (webpack output, state changes) goes to debug; the product's
 * workflow and activity lines, warnings and errors keep their level. A line about an access request carries its id as `requestId` (the workflow id
 * is the request id), so one filter finds everything that happened to a request, API and worker alike.
 */
import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from 'pino';
import { WORKFLOW_TYPE } from '../workflows/messages';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The SDK writes its own lines as `worker`, `core`, ...; these two are the product's `log` calls. */
const PRODUCT_COMPONENTS = new Set<unknown>(['workflow', 'activity']);

/** Call once, before the first worker or native connection is created. */
export function installTemporalLogging(logger: Logger): void {
  Runtime.install({ logger: temporalLogger(logger) });
}

/**
 * The SDK logger writing to `logger`. Workflow and activity lines arrive with the SDK's metadata
 * (workflowId, workflowType, activityType, attempt, ...): an accessRequest's workflowId is copied to
 * `requestId`, and `taskToken` (it can complete the activity) is left out.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const temporal = logger.child({ component: 'temporal' });
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const pinoLevel = level === 'INFO' && !PRODUCT_COMPONENTS.has(meta?.sdkComponent) ? 'debug' : PINO_LEVEL[level];
    temporal[pinoLevel](logFields(meta), message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/** The SDK's metadata as top-level pino fields, with `requestId` for access requests. */
export function logFields(meta: LogMetadata | undefined): Record<string, unknown> {
  if (!meta) return {};
  const { taskToken: _taskToken, ...fields } = meta as Record<string, unknown>;
  if (fields.requestId === undefined && fields.workflowType === WORKFLOW_TYPE && typeof fields.workflowId === 'string') {
    fields.requestId = fields.workflowId;
  }
  // pino serializes an Error (message, stack) only under `err`.
  if (fields.err === undefined && fields.error instanceof Error) {
    fields.err = fields.error;
    delete fields.error;
  }
  return fields;
}
