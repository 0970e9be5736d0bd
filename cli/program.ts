/**
 * The `p0` program: its top-level help and exit-code handling, and the command groups, each in its
 * own module (sessionCommands, catalogCommand, requestCommands, reconcileCommands). Every command
 * talks to the API over HTTP only (cli/api.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Argument, Command, CommanderError, Help } from 'commander';
import { ApiClient } from './api';
import { addCatalogCommand } from './catalogCommand';
import { examples, type CliIo, type CommandContext } from './commandContext';
import { completeWords, completionScript, SHELLS, type Shell } from './completion';
import { configPath, DEFAULT_API_URL, resolveConnection } from './config';
import { CliError, EXIT_CODES, messageOf, type ExitCode } from './errors';
import { addReconcileCommands } from './reconcileCommands';
import { addRequestCommands } from './requestCommands';
import { addSessionCommands } from './sessionCommands';

const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, stdinIsTTY: Boolean(process.stdin.isTTY) });

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

  const context: CommandContext = { io, argv, api, setExitCode };
  addSessionCommands(program, context);
  addCatalogCommand(program, context);
  addRequestCommands(program, context);
  addReconcileCommands(program, context);

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

  return program;
}

function packageVersion(): string {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return manifest.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
