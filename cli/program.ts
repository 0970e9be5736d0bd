/**
 * The `p0` commands. Each talks to the API over HTTP only (cli/api.ts); `request` hands its raw
 * words to the shared request grammar (shared/requestGrammar.ts), so the CLI and the Slack
 * one-line command accept the same words and refuse the same mistakes with the same message.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Argument, Command, CommanderError, Help } from 'commander';
import {
  createRequestBody,
  DEFAULT_WAIT_TIMEOUT,
  parseDurationWord,
  parseRequestWords,
  REQUEST_OPTIONS,
} from '../shared/requestGrammar';
import type { ReconcileReport } from '../shared/reconcile';
import type { RequestAction, RequestView } from '../shared/request';
import { ApiClient, ApiError, type ResourceEntry } from './api';
import { completeWords, completionScript, SHELLS, type Shell } from './completion';
import {
  configPath,
  DEFAULT_API_URL,
  insecureHttpAllowedByEnv,
  insecureHttpRefusal,
  normalizeApiUrl,
  readStoredConfig,
  resolveConnection,
  writeStoredConfig,
} from './config';
import { CliError, EXIT_CODES, messageOf, type ExitCode } from './errors';
import {
  describeStatus,
  describeTarget,
  describeReconcileAction,
  formatReconcileEvents,
  formatReconcileReport,
  formatRequestDetails,
  formatRequestTable,
  formatTable,
  printJson,
  type OutputStream,
} from './output';
import { promptSecret } from './prompt';
import { waitForRequest } from './wait';

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  stdinIsTTY: boolean;
}

const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, stdinIsTTY: Boolean(process.stdin.isTTY) });

const examples = (lines: string[]) => `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;

/** Runs one `p0 ...` invocation; resolves to its exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode: ExitCode = EXIT_CODES.ok;
  const program = buildProgram(io, argv, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    // Commander has already printed its own message (usage mistakes) or the help.
    if (error instanceof CommanderError) return error.exitCode;
    io.stderr.write(`p0: ${messageOf(error)}\n`);
    if (io.env.P0_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return error instanceof CliError ? error.exitCode : EXIT_CODES.error;
  }
}

export function buildProgram(io: CliIo, argv: readonly string[], setExitCode: (code: ExitCode) => void): Command {
  const api = () => new ApiClient(resolveConnection(io.env));

  const program = new Command('p0')
    .description('Just-in-time cloud access from your terminal: request, wait until it works, give it back.')
    .version(packageVersion(), '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`p0: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({
      // `request` takes raw words; show them as the grammar reads them.
      subcommandTerm: (command) => (command.name() === 'request' ? 'request <provider> <kind> <target> [options]' : new Help().subcommandTerm(command)),
    })
    .addHelpText(
      'after',
      `
Start with:
  p0 login --url ${DEFAULT_API_URL} --token <your token>
  p0 ls
  p0 request aws group Developers --reason "debug INC-42" --duration 15m --wait

Exit codes: 0 ok (with --wait: access active), 1 error or failed/ended, 2 denied/cancelled/timed out
without approval, 3 reconcile could not remove or check something, 4 --wait timed out. Config: ${configPath(io.env)} (P0_API_URL, P0_TOKEN override it).
More: docs/cli.md`,
    );

  program
    .command('login')
    .description('Store the API URL and your token, after checking that the API accepts it')
    .option('--url <url>', `the p0 API (default: P0_API_URL, the stored URL, or ${DEFAULT_API_URL})`)
    .option('--token <token>', 'your API token (prompted for, unechoed, when omitted on a terminal)')
    .option('--insecure-http', 'allow sending the token over plain http:// to a host that is not this machine (stored with the URL)')
    .addHelpText(
      'after',
      examples([
        `p0 login --url ${DEFAULT_API_URL} --token p0_...`,
        'p0 login                      # same URL as before, asks for the token',
        `p0 login --url ${DEFAULT_API_URL} --token "$(npm run -s token -- alice@example.com)"   # dev setup`,
      ]) + `\nStored in ${configPath(io.env)} (mode 0600).\n`,
    )
    .action(async (options: { url?: string; token?: string; insecureHttp?: boolean }) => {
      // A broken config file is what login repairs, so it does not stop login.
      const stored = (() => {
        try {
          return readStoredConfig(io.env);
        } catch {
          return {};
        }
      })();
      const apiUrl = options.url
        ? normalizeApiUrl(options.url, '--url')
        : io.env.P0_API_URL
          ? normalizeApiUrl(io.env.P0_API_URL, 'P0_API_URL')
          : stored.apiUrl ?? DEFAULT_API_URL;
      const allowInsecureHttp = options.insecureHttp === true || insecureHttpAllowedByEnv(io.env);
      // Refused before asking for the token: it would not be sent anyway.
      const refusal = insecureHttpRefusal({ apiUrl, allowInsecureHttp });
      if (refusal) throw new CliError(refusal);
      let token = options.token?.trim();
      if (!token) {
        if (options.token !== undefined) throw new CliError('--token is empty: give the token itself, e.g. p0 login --token p0_...');
        if (!io.stdinIsTTY) throw new CliError('no token: give it with p0 login --token TOKEN (p0 can only ask for it on a terminal)');
        token = await promptSecret(`Token for ${apiUrl}: `);
        if (!token) throw new CliError('no token given: nothing saved');
      }
      const client = new ApiClient({ apiUrl, token, allowInsecureHttp });
      let resources: ResourceEntry[];
      let who: string;
      try {
        who = (await client.me()).email;
        resources = await client.resources();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          throw new CliError(`the p0 API at ${apiUrl} refused this token (invalid, expired or revoked): nothing saved; check it or ask for a new one`);
        }
        throw error;
      }
      // The permission for plain http is given (or taken back) by each login, for this URL only.
      const file = writeStoredConfig({ apiUrl, token, ...(options.insecureHttp ? { insecureHttp: true } : {}) }, io.env);
      if (allowInsecureHttp && insecureHttpRefusal({ apiUrl })) {
        io.stderr.write(`p0: warning: the token travels over plain http to ${apiUrl}: anyone on the network path can read it\n`);
      }
      io.stdout.write(
        `Logged in to ${apiUrl} as ${who}: the token works (${resources.length} resource${resources.length === 1 ? '' : 's'} you can request, see p0 ls).\nSaved in ${file}\n`,
      );
      if (io.env.P0_TOKEN) io.stderr.write('p0: note: P0_TOKEN is set in your environment and overrides the stored token\n');
    });

  program
    .command('logout')
    .description('Forget the stored token (the API URL stays)')
    .addHelpText('after', examples(['p0 logout']))
    .action(() => {
      const stored = readStoredConfig(io.env);
      if (!stored.token) {
        io.stdout.write(`No token stored in ${configPath(io.env)}\n`);
        return;
      }
      const file = writeStoredConfig({ apiUrl: stored.apiUrl }, io.env);
      io.stdout.write(`Logged out: removed the token from ${file}\n`);
    });

  program
    .command('ls')
    .description('List what you may request (the catalog)')
    .argument('[provider]', 'only this provider, e.g. aws')
    .argument('[kind]', 'only this kind, e.g. role')
    .option('--like <text>', 'only entries whose target, resource or description contains TEXT')
    .option('--json', 'print {"resources": [...]} as JSON')
    .addHelpText('after', examples(['p0 ls', 'p0 ls aws role', 'p0 ls --like admin', 'p0 ls aws --json']))
    .action(async (provider: string | undefined, kind: string | undefined, options: { like?: string; json?: boolean }) => {
      const like = options.like?.toLowerCase();
      const matches = (await api().resources()).filter(
        (entry) =>
          (!provider || entry.provider.toLowerCase() === provider.toLowerCase()) &&
          (!kind || entry.kind.toLowerCase() === kind.toLowerCase()) &&
          (!like || [entry.target, entry.resource, entry.level, entry.description].some((text) => typeof text === 'string' && text.toLowerCase().includes(like))),
      );
      if (options.json) return printJson(io.stdout, { resources: matches });
      if (matches.length === 0) {
        io.stderr.write('Nothing matches: p0 ls without filters shows everything you may request\n');
        return;
      }
      io.stdout.write(formatCatalog(matches));
    });

  program
    .command('request')
    .usage('<provider> <kind> <target> [options]')
    .description('Request access; with --wait, wait until it is verified usable')
    .argument('[words...]', 'provider, kind, target and options, as below')
    .configureHelp({ visibleArguments: () => [] })
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .addHelpText(
      'after',
      `\nOptions (any order, --name VALUE or --name=VALUE):\n${REQUEST_OPTIONS.filter((option) => option.channels.includes('cli'))
        .map((option) => `  ${`${option.name}${option.value ? ` ${option.value}` : ''}`.padEnd(22)}${option.description}`)
        .join('\n')}\n` +
        examples([
          'p0 request aws role AdminRole --reason "deploy hotfix" --duration 1h',
          'p0 request aws group Developers --reason "debug INC-42" --duration 15m --wait',
          'p0 request aws policy ReadOnlyAccess --reason audit --wait --timeout 30m --json',
        ]) +
        `\nWith --wait: exit 0 once active, 2 if denied, cancelled or timed out without approval,
1 if it failed or ended first, 4 if --timeout passed (the request goes on).\n`,
    )
    .action(async (_words: string[], _options: unknown, command: Command) => {
      const words = rawWordsAfter(argv, command.name());
      if (wantsHelp(words)) command.help();
      const parsed = parseRequestWords(words, { channel: 'cli' });
      const client = api();
      let view: RequestView;
      try {
        view = await client.createRequest(createRequestBody(parsed));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) throw new CliError(`${error.message} (p0 ls lists what you may request)`);
        throw error;
      }
      if (!parsed.wait) {
        if (parsed.json) return printJson(io.stdout, { request: view });
        io.stdout.write(`${view.id} requested: ${describeTarget(view)} for ${view.duration}\n  ${describeStatus(view)}\n  follow it: p0 status ${view.id} --wait\n`);
        return;
      }
      const timeoutSeconds = parsed.timeoutSeconds ?? parseDurationWord(DEFAULT_WAIT_TIMEOUT);
      setExitCode(await followRequest(client, view, { timeoutSeconds, json: parsed.json, intro: 'requested' }));
    });

  program
    .command('status')
    .description('Show one request')
    .argument('<id>', 'the request id, e.g. req_01J...')
    .option('--json', 'print {"request": {...}} as JSON')
    .option('--wait', 'wait until it is active or ends (same exit codes as p0 request --wait)')
    .option('--timeout <duration>', `with --wait: stop waiting after this long (default ${DEFAULT_WAIT_TIMEOUT}, then exit 4)`)
    .addHelpText('after', examples(['p0 status req_01JDQ2V7T4M9C8K1Z5X3N6B2W0', 'p0 status req_01JDQ2V7T4M9C8K1Z5X3N6B2W0 --json', 'p0 status req_01JDQ2V7T4M9C8K1Z5X3N6B2W0 --wait --timeout 30m']))
    .action(async (id: string, options: { json?: boolean; wait?: boolean; timeout?: string }) => {
      const usage = 'p0 status <id> [--json] [--wait [--timeout 10m]]';
      if (options.timeout !== undefined && !options.wait) throw new CliError(`--timeout only applies with --wait\nusage: ${usage}`);
      const timeoutSeconds = parseDurationWord(options.timeout ?? DEFAULT_WAIT_TIMEOUT, '--timeout', usage);
      const client = api();
      const view = await client.getRequest(id);
      if (options.wait) return setExitCode(await followRequest(client, view, { timeoutSeconds, json: Boolean(options.json), intro: 'following' }));
      if (options.json) return printJson(io.stdout, { request: view });
      io.stdout.write(formatRequestDetails(view));
    });

  program
    .command('requests')
    .description('List requests: yours and those you may approve (admins: all), newest first')
    .option('--mine', 'only requests you made')
    .option('--pending-approval', 'only pending requests you may approve now')
    .option('--status <status>', 'only requests in this state (pending, active, denied, ...)')
    .option('--json', 'print {"requests": [...]} as JSON')
    .addHelpText('after', examples(['p0 requests --mine', 'p0 requests --pending-approval', 'p0 requests --status active --json']))
    .action(async (options: { mine?: boolean; pendingApproval?: boolean; status?: string; json?: boolean }) => {
      const views = await api().listRequests(options);
      if (options.json) return printJson(io.stdout, { requests: views });
      if (views.length === 0) {
        io.stderr.write('No requests\n');
        return;
      }
      io.stdout.write(formatRequestTable(views));
    });

  const actions: Array<{ action: RequestAction; description: string; textOption: '--comment' | '--reason'; example: string }> = [
    { action: 'approve', description: 'Approve a request, or the extension an active one asks for (as an approver)', textOption: '--comment', example: '--comment "ok for INC-42"' },
    { action: 'deny', description: 'Deny a request, or the extension an active one asks for (as an approver)', textOption: '--reason', example: '--reason "use the read-only role"' },
    { action: 'cancel', description: 'Withdraw your own pending request', textOption: '--reason', example: '--reason "not needed any more"' },
    { action: 'relinquish', description: 'Give back your active access now (answers once it is removed)', textOption: '--reason', example: '--reason done' },
    { action: 'revoke', description: 'End someone\'s access (admins)', textOption: '--reason', example: '--reason "incident over"' },
    { action: 'review', description: 'Review break-glass access after the fact (as one of its approvers)', textOption: '--comment', example: '--comment "justified: INC-42"' },
  ];
  for (const { action, description, textOption, example } of actions) {
    const key = textOption === '--comment' ? 'comment' : 'reason';
    const decides = action === 'approve' || action === 'deny';
    const command = program
      .command(action)
      .description(description)
      .argument('<id>', 'the request id, e.g. req_01J...')
      .option(`${textOption} <text>`, key === 'comment' ? 'a comment for the requester and the audit trail' : 'why, for the audit trail')
      .option('--json', 'print {"request": {...}} as JSON');
    if (decides) command.option('--extension <ext-id>', `${action} the pending extension with this id (shown by \`p0 status\`), not the request`);
    command
      .addHelpText(
        'after',
        examples([
          `p0 ${action} req_01JDQ2V7T4M9C8K1Z5X3N6B2W0`,
          `p0 ${action} req_01JDQ2V7T4M9C8K1Z5X3N6B2W0 ${example}`,
          ...(decides ? [`p0 ${action} req_01JDQ2V7T4M9C8K1Z5X3N6B2W0 --extension ext-7`] : []),
        ]),
      )
      .action(async (id: string, options: { comment?: string; reason?: string; json?: boolean; extension?: string }) => {
        const view = await api().act(id, action, options[key], options.extension);
        printActionResult(view, Boolean(options.json));
      });
  }

  program
    .command('extend')
    .description('Ask for more time on your active access (when the policy allows extension)')
    .argument('<id>', 'the request id, e.g. req_01J...')
    .requiredOption('--duration <duration>', 'how much longer: 90s, 15m, 2h, 1d')
    .option('--reason <text>', 'why, shown to approvers')
    .option('--json', 'print {"request": {...}} as JSON')
    .addHelpText('after', examples(['p0 extend req_01JDQ2V7T4M9C8K1Z5X3N6B2W0 --duration 1h --reason "migration still running"']))
    .action(async (id: string, options: { duration: string; reason?: string; json?: boolean }) => {
      parseDurationWord(options.duration, '--duration', 'p0 extend <id> --duration 1h [--reason TEXT] [--json]');
      const view = await api().extend(id, options.duration.trim(), options.reason);
      printActionResult(view, Boolean(options.json));
    });

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

  program
    .command('completion')
    .description('Print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .addHelpText('after', examples(['source <(p0 completion bash)      # in ~/.bashrc', 'source <(p0 completion zsh)       # in ~/.zshrc']))
    .action((shell: Shell) => {
      io.stdout.write(completionScript(shell, program));
    });

  program
    .command('__complete', { hidden: true })
    .argument('<command>')
    .argument('[words...]')
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .action(async (command: string, words: string[]) => {
      // Completion must never print errors into the user's command line.
      const candidates = await completeWords(api, command, words).catch(() => []);
      if (candidates.length > 0) io.stdout.write(`${candidates.join('\n')}\n`);
    });

  function printActionResult(view: RequestView, json: boolean): void {
    if (json) return printJson(io.stdout, { request: view });
    io.stdout.write(`${view.id} ${describeTarget(view)}: ${describeStatus(view)}\n`);
  }

  async function followRequest(client: ApiClient, view: RequestView, options: { timeoutSeconds: number; json: boolean; intro: 'requested' | 'following' }): Promise<ExitCode> {
    // With --json, stdout carries only the JSON document; progress goes to stderr.
    const progress = options.json ? io.stderr : io.stdout;
    const result = await waitForRequest(client, view, { timeoutMs: options.timeoutSeconds * 1000, progress, intro: options.intro });
    if (options.json) printJson(io.stdout, { request: result.view });
    if (result.problem) io.stderr.write(`p0: ${result.problem}\n`);
    return result.exitCode;
  }

  return program;
}

/**
 * The catalog as a table. Columns for fields the server may or may not send (resource, level,
 * presets, rules worth knowing before asking) appear only when some entry has them.
 */
function formatCatalog(entries: ResourceEntry[]): string {
  const presetsOf = (entry: ResourceEntry) => {
    const presets = entry.durationPresets ?? entry.presets;
    return Array.isArray(presets) ? presets.map(text).join(', ') : text(presets);
  };
  const notesOf = (entry: ResourceEntry) => {
    const notes: string[] = [];
    if (entry.requireReason === true) notes.push(typeof entry.reasonPatternDescription === 'string' ? `reason: ${entry.reasonPatternDescription}` : 'reason required');
    const breakGlass = entry.breakGlass as { maxDuration?: string } | undefined;
    if (breakGlass && typeof breakGlass === 'object') notes.push(`break-glass up to ${breakGlass.maxDuration ?? '?'}`);
    if (entry.readOnly === true) notes.push('read-only');
    return notes.join('; ');
  };
  const candidates: Array<[string, (entry: ResourceEntry) => string, 'always' | 'when-any']> = [
    ['PROVIDER', (entry) => entry.provider, 'always'],
    ['RESOURCE', (entry) => text(entry.resource), 'when-any'],
    ['LEVEL', (entry) => text(entry.level), 'when-any'],
    ['KIND', (entry) => entry.kind, 'always'],
    ['TARGET', (entry) => entry.target, 'always'],
    ['DEFAULT', (entry) => entry.defaultDuration, 'always'],
    ['RANGE', (entry) => `${entry.minDuration}-${entry.maxDuration}`, 'always'],
    ['PRESETS', presetsOf, 'when-any'],
    ['APPROVALS', (entry) => String(entry.approvalsRequired), 'always'],
    ['NOTES', notesOf, 'when-any'],
    ['DESCRIPTION', (entry) => text(entry.description), 'when-any'],
  ];
  const columns = candidates.filter(([, cell, when]) => when === 'always' || entries.some((entry) => cell(entry) !== ''));
  return formatTable(
    columns.map(([header]) => header),
    entries.map((entry) => columns.map(([, cell]) => cell(entry))),
  );
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

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string') return (value as { name: string }).name;
  return JSON.stringify(value);
}

/**
 * The words after the command name exactly as typed (commander would swallow a leading `--`), so
 * the grammar sees what the user wrote, as the Slack adapter does.
 */
function rawWordsAfter(rawArgs: readonly string[], commandName: string): string[] {
  const index = rawArgs.indexOf(commandName, 2);
  return index < 0 ? [] : rawArgs.slice(index + 1);
}

function wantsHelp(words: string[]): boolean {
  const end = words.indexOf('--');
  return (end < 0 ? words : words.slice(0, end)).some((word) => word === '--help' || word === '-h');
}

function packageVersion(): string {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return manifest.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
