/**
 * The commands about requests: `request` (its raw words go to the shared request grammar,
 * shared/requestGrammar.ts, so the CLI and the Slack one-line command accept the same words and
 * refuse the same mistakes with the same message), `status`, `requests`, the actions on a request
 * (approve, deny, cancel, relinquish, revoke, review) and `extend`.
 */
import type { Command } from 'commander';
import type { RequestAction, RequestView } from '../shared/request';
import { createRequestBody, DEFAULT_WAIT_TIMEOUT, parseDurationWord, parseRequestWords, REQUEST_OPTIONS } from '../shared/requestGrammar';
import { ApiError, type ApiClient } from './api';
import { examples, type CommandContext } from './commandContext';
import { CliError, type ExitCode } from './errors';
import { describeStatus, describeTarget, formatRequestDetails, formatRequestTable, printJson } from './output';
import { waitForRequest } from './wait';

export function addRequestCommands(program: Command, { io, argv, api, setExitCode }: CommandContext): void {
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
