/**
 * The policy as it is now: loaded from the config file, and reloaded when the file changes, so a
 * reviewed policy change takes effect without restarting anything. A file that does not validate is
 * refused (logged, the previous policy stays). Running requests are unaffected either way: each
 * carries the decisions made under the policy version it was requested under.
 *
 * A file is taken only once it has stopped changing: an editor or `cp` truncates the file and
 * writes it in pieces, and many of those pieces are valid YAML and a valid config on their own
 * (most line-prefixes of the example config are; some auto-approve more than the whole file does).
 * So a reload reads the file, waits a short stability window and reads it again, and takes it only
 * when both reads agree. A file moved into place (`mv`, an atomic rename) is whole from the start.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, parseConfig } from '../config/load';
import { compilePolicy, type Policy } from './policy';

/** How often the file's modification time is checked. */
const WATCH_INTERVAL_MS = 1000;
/** How long the file must stay the same (content, size and mtime) before it is taken. */
const STABLE_MS = 300;

export interface WatchOptions {
  intervalMs?: number;
  stableMs?: number;
}

/** Names added, removed or changed between two policies. */
export interface NamedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** What a reload changed, for the log line that says so. */
export interface PolicyChange {
  /** Access levels by id (`aws/prod/admin`). */
  levels: NamedChanges;
  /** Auto-approval rules by name. */
  autoApproval: NamedChanges;
  /** Approver groups by name (changed = different members). */
  approvers: NamedChanges;
  /** Directory groups by name (changed = different members). */
  groups: NamedChanges;
  admins: { added: string[]; removed: string[] };
  /** Other top-level settings whose value changed (`approvalTimeout`, `aws`, `slack`, ...). */
  settings: string[];
}

export class LivePolicy {
  private policy: Policy;
  private readonly listeners: Array<(policy: Policy, change: PolicyChange) => void> = [];
  private watching = false;
  private stableMs = STABLE_MS;
  /** The reload running for the watcher, and whether the file changed again meanwhile. */
  private reloading: Promise<void> | undefined;
  private changedWhileReloading = false;

  private constructor(
    readonly path: string,
    policy: Policy,
  ) {
    this.policy = policy;
  }

  /** Reads and validates the file; throws ConfigError naming the file, place and problem. */
  static load(path: string): LivePolicy {
    return new LivePolicy(path, compileText(readSnapshot(path).text, path));
  }

  /** A policy from text, for tests and tools that hold no file. */
  static fromText(text: string, sourceName: string): LivePolicy {
    return new LivePolicy(sourceName, compileText(text, sourceName));
  }

  current(): Policy {
    return this.policy;
  }

  /** Returns a function that stops the listener. */
  onChange(listener: (policy: Policy, change: PolicyChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /** Starts reloading on change; `onError` hears about a file that no longer validates. */
  watch(onError: (error: Error) => void, options: WatchOptions = {}): void {
    if (this.watching) return;
    this.watching = true;
    this.stableMs = options.stableMs ?? STABLE_MS;
    fs.watchFile(this.path, { interval: options.intervalMs ?? WATCH_INTERVAL_MS }, () => this.reloadForWatcher(onError));
  }

  /**
   * Re-reads the file once it has been the same for the stability window; returns whether the
   * policy changed. Throws ConfigError (and keeps the current policy) when the file does not validate.
   */
  async reload(): Promise<boolean> {
    let before = readSnapshot(this.path);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, this.stableMs));
      const after = readSnapshot(this.path);
      if (sameSnapshot(before, after)) break;
      // Still being written: wait until it settles.
      before = after;
    }
    const next = compileText(before.text, this.path);
    if (next.version === this.policy.version) return false;
    const change = comparePolicies(this.policy, next);
    this.policy = next;
    for (const listener of this.listeners) listener(next, change);
    return true;
  }

  close(): void {
    if (this.watching) fs.unwatchFile(this.path);
    this.watching = false;
  }

  /** One reload at a time; a change seen meanwhile runs one more when it ends. */
  private reloadForWatcher(onError: (error: Error) => void): void {
    if (this.reloading) {
      this.changedWhileReloading = true;
      return;
    }
    this.reloading = (async () => {
      do {
        this.changedWhileReloading = false;
        try {
          await this.reload();
        } catch (error) {
          if (this.watching) onError(error as Error);
        }
      } while (this.changedWhileReloading && this.watching);
    })().finally(() => {
      this.reloading = undefined;
    });
  }
}

/** The log's words for a change: `levels added aws/prod/readonly; approver groups changed sre`. */
export function describePolicyChange(change: PolicyChange): string {
  const named = (label: string, changes: Partial<NamedChanges>) => {
    const parts = (['added', 'removed', 'changed'] as const)
      .filter((what) => (changes[what]?.length ?? 0) > 0)
      .map((what) => `${what} ${changes[what]!.join(', ')}`);
    return parts.length > 0 ? `${label} ${parts.join(', ')}` : undefined;
  };
  const parts = [
    named('levels', change.levels),
    named('auto-approval rules', change.autoApproval),
    named('approver groups', change.approvers),
    named('groups', change.groups),
    named('admins', change.admins),
    change.settings.length > 0 ? `settings changed ${change.settings.join(', ')}` : undefined,
  ].filter((part): part is string => part !== undefined);
  return parts.length > 0 ? parts.join('; ') : 'no change in effect (comments or layout only)';
}

function comparePolicies(before: Policy, after: Policy): PolicyChange {
  const byKey = <T>(items: T[], key: (item: T) => string) => new Map(items.map((item) => [key(item), item]));
  const adminsBefore = new Set(before.config.admins);
  const adminsAfter = new Set(after.config.admins);
  const handled = new Set(['catalog', 'resources', 'autoApproval', 'approvers', 'groups', 'admins']);
  const keys = [...new Set([...Object.keys(before.config), ...Object.keys(after.config)])];
  return {
    levels: compareNamed(byKey(before.levels, (level) => level.id), byKey(after.levels, (level) => level.id)),
    autoApproval: compareNamed(byKey(before.config.autoApproval, (rule) => rule.name), byKey(after.config.autoApproval, (rule) => rule.name)),
    approvers: compareNamed(new Map(Object.entries(before.config.approvers)), new Map(Object.entries(after.config.approvers))),
    groups: compareNamed(new Map(Object.entries(before.config.groups)), new Map(Object.entries(after.config.groups))),
    admins: {
      added: [...adminsAfter].filter((email) => !adminsBefore.has(email)),
      removed: [...adminsBefore].filter((email) => !adminsAfter.has(email)),
    },
    settings: keys
      .filter((key) => !handled.has(key))
      .filter((key) => !isDeepStrictEqual((before.config as Record<string, unknown>)[key], (after.config as Record<string, unknown>)[key])),
  };
}

function compareNamed(before: Map<string, unknown>, after: Map<string, unknown>): NamedChanges {
  return {
    added: [...after.keys()].filter((key) => !before.has(key)),
    removed: [...before.keys()].filter((key) => !after.has(key)),
    changed: [...after.keys()].filter((key) => before.has(key) && !isDeepStrictEqual(before.get(key), after.get(key))),
  };
}

interface Snapshot {
  text: string;
  size: number;
  mtimeMs: number;
}

function readSnapshot(path: string): Snapshot {
  try {
    const stat = fs.statSync(path);
    return { text: fs.readFileSync(path, 'utf8'), size: stat.size, mtimeMs: stat.mtimeMs };
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the config file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

function sameSnapshot(first: Snapshot, second: Snapshot): boolean {
  return first.text === second.text && first.size === second.size && first.mtimeMs === second.mtimeMs;
}

function compileText(text: string, sourceName: string): Policy {
  return compilePolicy(parseConfig(text, sourceName), versionOf(text));
}

/** A short content hash: the same text is the same version on every process. */
function versionOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
