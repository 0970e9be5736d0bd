import os from 'node:os';
import path from 'node:path';

/**
 * Where the project keeps tools it builds or installs (Temporal CLI, moto's virtualenv, ...):
 * outside the clone, so a fresh clone on the same machine reuses them. Same rule as scripts/lib.sh.
 */
export function toolCacheDir(): string {
  if (process.env.P0_TOOL_CACHE) return process.env.P0_TOOL_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'p0-jit');
}
