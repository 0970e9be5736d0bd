/** What every `p0` command is given: where to write, the environment, the API, and how to set the exit code. */
import type { ApiClient } from './api';
import type { ExitCode } from './errors';
import type { OutputStream } from './output';

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  stdinIsTTY: boolean;
}

export interface CommandContext {
  io: CliIo;
  /** The whole command line as typed (`request` reads its own words from it). */
  argv: readonly string[];
  /** A client for the configured API and token; built on use, so `login` and `--help` need neither. */
  api: () => ApiClient;
  /** For a command that ends without an error but not with 0 (`--wait`, `reconcile`). */
  setExitCode: (code: ExitCode) => void;
}

/** The `Examples:` block of a command's help. */
export const examples = (lines: string[]) => `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
