/** `p0 reconcile` and `p0 reconcile events`: the orphan reconciler, on demand, and its audit trail (admins). */
import type { Command } from 'commander';
import type { ReconcileReport } from '../shared/reconcile';
import { examples, type CommandContext } from './commandContext';
import { CliError, EXIT_CODES } from './errors';
import { describeReconcileAction, formatReconcileEvents, formatReconcileReport, printJson } from './output';

export function addReconcileCommands(program: Command, { io, api, setExitCode }: CommandContext): void {
  const reconcile = program
    .command('reconcile')
    .description('Run the orphan reconciler once: grants no request holds, active grants gone missing; p0 reconcile events lists what it did (admins)')
    .option('--dry-run', 'show what it would do; change and record nothing')
    .option('--report-only', 'record orphans but leave them in place (reconcile.orphans: report, for this run)')
    .option('--json', 'print {"report": {...}} as JSON')
    .addHelpText(
      'after',
      examples(['p0 reconcile --dry-run', 'p0 reconcile', 'p0 reconcile --report-only --json', 'p0 reconcile events --request req_01JDQ2V7T4M9C8K1Z5X3N6B2W0']) +
        `\nExit codes: 0 nothing found, or everything found was acted on (or, with --dry-run, listed);
3 a removal or re-provisioning failed, or a provider could not be checked (the next run tries
again); 1 an error (not an admin, API unreachable).\n`,
    )
    .action(async (options: { dryRun?: boolean; reportOnly?: boolean; json?: boolean }) => {
      const report = await api().reconcile({ dryRun: Boolean(options.dryRun), ...(options.reportOnly ? { orphans: 'report' as const } : {}) });
      if (options.json) printJson(io.stdout, { report });
      else io.stdout.write(formatReconcileReport(report));
      const problem = reconcileProblem(report);
      if (problem) {
        io.stderr.write(`p0: ${problem}\n`);
        setExitCode(EXIT_CODES.incomplete);
      }
    });

  reconcile
    .command('events')
    .description("The reconciler's audit trail, newest first: what it removed, reported or asked to re-provision (admins)")
    .option('--request <id>', 'only findings for this request id')
    .option('--limit <n>', 'at most this many (default 100, at most 1000)')
    .option('--json', 'print {"events": [...]} as JSON')
    .addHelpText('after', examples(['p0 reconcile events', 'p0 reconcile events --request req_01JDQ2V7T4M9C8K1Z5X3N6B2W0', 'p0 reconcile events --limit 20 --json']))
    .action(async (options: { request?: string; limit?: string; json?: boolean }) => {
      let limit: number | undefined;
      if (options.limit !== undefined) {
        limit = Number(options.limit);
        if (!/^\d+$/.test(options.limit.trim()) || limit < 1) {
          throw new CliError(`--limit: "${options.limit}" is not a positive whole number\nusage: p0 reconcile events [--request ID] [--limit N] [--json]`);
        }
      }
      const events = await api().reconcileEvents({ requestId: options.request, limit });
      if (options.json) return printJson(io.stdout, { events });
      if (events.length === 0) {
        io.stderr.write(options.request ? `No reconciler findings for ${options.request}\n` : 'No reconciler findings yet\n');
        return;
      }
      io.stdout.write(formatReconcileEvents(events));
    });
}

/**
 * What kept a reconcile pass from settling everything, in one line (exit 3), or undefined: a
 * removal or re-provisioning that failed, a provider (or a grant) that could not be checked.
 */
function reconcileProblem(report: ReconcileReport): string | undefined {
  const failed = [...report.orphans, ...report.missing].filter((outcome) => outcome.error !== undefined || outcome.action.endsWith('_failed'));
  const parts = failed.map((outcome) => `${outcome.requestId} ${describeReconcileAction(outcome.action)}${outcome.error ? ` (${outcome.error})` : ''}`);
  const unchecked = [...new Set(report.errors.map((error) => error.provider))];
  if (unchecked.length > 0) parts.push(`could not check ${unchecked.join(', ')}`);
  return parts.length === 0 ? undefined : `${parts.join('; ')}: the next run tries again`;
}
