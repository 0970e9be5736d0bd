/**
 * The real `p0` binary (node bin/p0.js) as a child process, with its own config directory, so the
 * CLI tests exercise exactly what a user runs: argument parsing, config file, HTTP, exit codes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const P0_BIN = path.join(REPO_ROOT, 'bin', 'p0.js');

/** Children still running when the test process exits are killed (one listener for all of them). */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment, e.g. P0_API_URL and P0_TOKEN; XDG_CONFIG_HOME and HOME are the home's. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** A private HOME and XDG_CONFIG_HOME for one test's CLI runs. */
export class CliHome {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-cli-'));
  readonly configHome = path.join(this.dir, 'config');

  get configFile(): string {
    return path.join(this.configHome, 'p0', 'config.json');
  }

  /** Runs `p0 ...args` to the end. */
  run(args: string[], options: CliOptions = {}): Promise<CliResult> {
    return this.start(args, options).exited;
  }

  /** Starts `p0 ...args`; the caller can watch its output while it runs. */
  start(args: string[], options: CliOptions = {}): RunningCli {
    // Nothing from the developer's own environment may leak in (their token, their API URL).
    const env: Record<string, string | undefined> = { ...process.env, P0_API_URL: undefined, P0_TOKEN: undefined, P0_DEBUG: undefined };
    Object.assign(env, { HOME: this.dir, XDG_CONFIG_HOME: this.configHome }, options.env);
    const child = spawn(process.execPath, [P0_BIN, ...args], {
      cwd: REPO_ROOT,
      env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new RunningCli(child, args, options.timeoutMs ?? 60_000);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RunningCli {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;

  constructor(
    readonly child: ChildProcess,
    args: string[],
    timeoutMs: number,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    running.add(child);
    this.exited = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`p0 ${args.join(' ')} did not exit in ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      }, timeoutMs);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        running.delete(child);
        resolve({ code, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves with the first match of `pattern` in stdout + stderr, as soon as it appears. */
  async waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = (this.stdout + this.stderr).match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null) throw new Error(`p0 exited (${this.child.exitCode}) before printing ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`p0 did not print ${pattern} in ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
