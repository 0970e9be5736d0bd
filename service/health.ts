/**
 * Readiness: can this process do its work right now? /healthz only says the process answers;
 * /readyz asks what serving a request needs (Temporal and the database), each with a short
 * timeout, so a load balancer stops sending traffic to an instance that cannot reach them.
 */
import type { Connection } from '@temporalio/client';
import type { Knex } from 'knex';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency answers; rejects (or outlives the timeout) when it does not. */
  check(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  /** `ok`, or why the check failed. */
  checks: Record<string, string>;
}

export const READINESS_TIMEOUT_MS = 2_000;

/** Temporal's frontend answers GetSystemInfo without touching a namespace or a worker. */
export function temporalCheck(connection: Pick<Connection, 'workflowService' | 'withDeadline'>, timeoutMs = READINESS_TIMEOUT_MS): ReadinessCheck {
  return {
    name: 'temporal',
    check: async () => {
      await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
    },
  };
}

export function databaseCheck(database: Knex): ReadinessCheck {
  return {
    name: 'database',
    check: async () => {
      await database.raw('select 1');
    },
  };
}

/** Runs every check at once, each bounded by `timeoutMs`. */
export async function checkReadiness(checks: readonly ReadinessCheck[], timeoutMs = READINESS_TIMEOUT_MS): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (readiness) => {
      const { name } = readiness;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([readiness.check(), timeout]);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, `failed: ${describeFailure(error)}`] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, result]) => result === 'ok'), checks: Object.fromEntries(results) };
}

/** One line, short, and without credentials a connection string might carry. */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0]!.replace(/\/\/[^/@\s]*@/g, '//***@');
  return firstLine.length > 200 ? `${firstLine.slice(0, 199)}…` : firstLine || 'unknown error';
}
