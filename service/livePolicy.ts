/**
 * The policy as it is now: loaded from the config file, and reloaded when the file changes, so a
 * reviewed policy change takes effect without restarting anything. A file that does not validate is
 * refused (logged, the previous policy stays). Running requests are unaffected either way: each
 * carries the decisions made under the policy version it was requested under.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError, parseConfig } from '../config/load';
import { compilePolicy, type Policy } from './policy';

/** How often the file's modification time is checked. */
const WATCH_INTERVAL_MS = 1000;

export class LivePolicy {
  private policy: Policy;
  private readonly listeners: Array<(policy: Policy) => void> = [];
  private watching = false;

  private constructor(
    readonly path: string,
    policy: Policy,
  ) {
    this.policy = policy;
  }

  /** Reads and validates the file; throws ConfigError naming the file, place and problem. */
  static load(path: string): LivePolicy {
    return new LivePolicy(path, readPolicy(path));
  }

  /** A policy from text, for tests and tools that hold no file. */
  static fromText(text: string, sourceName: string): LivePolicy {
    return new LivePolicy(sourceName, compilePolicy(parseConfig(text, sourceName), versionOf(text)));
  }

  current(): Policy {
    return this.policy;
  }

  /** Returns a function that stops the listener. */
  onChange(listener: (policy: Policy) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /** Starts reloading on change; `onError` hears about a file that no longer validates. */
  watch(onError: (error: Error) => void): void {
    if (this.watching) return;
    this.watching = true;
    fs.watchFile(this.path, { interval: WATCH_INTERVAL_MS }, () => {
      try {
        this.reload();
      } catch (error) {
        onError(error as Error);
      }
    });
  }

  /** Re-reads the file now; returns whether the policy changed. */
  reload(): boolean {
    const next = readPolicy(this.path);
    if (next.version === this.policy.version) return false;
    this.policy = next;
    for (const listener of this.listeners) listener(next);
    return true;
  }

  close(): void {
    if (this.watching) fs.unwatchFile(this.path);
    this.watching = false;
  }
}

function readPolicy(path: string): Policy {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the config file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return compilePolicy(parseConfig(text, path), versionOf(text));
}

/** A short content hash: the same text is the same version on every process. */
function versionOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
