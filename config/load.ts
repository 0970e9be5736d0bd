import fs from 'node:fs';
import { parseDocument } from 'yaml';
import type { ZodError } from 'zod';
import { configSchema, type P0Config } from './schema';

export const DEFAULT_CONFIG_PATH = 'config/p0.yaml';
/** Used when no config/p0.yaml exists yet, so a fresh clone runs; the log says so. */
export const EXAMPLE_CONFIG_PATH = 'config/p0.example.yaml';

/** A config file that cannot be used; the message names the file, the place and the problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function resolveConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.P0_CONFIG) return env.P0_CONFIG;
  return fs.existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : EXAMPLE_CONFIG_PATH;
}

export function parseConfig(text: string, sourceName: string): P0Config {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map((error) => `${sourceName}: ${error.message}`).join('\n'));
  }
  const result = configSchema.safeParse(document.toJS() ?? {});
  if (!result.success) throw new ConfigError(describeIssues(result.error, sourceName));
  return result.data;
}

function describeIssues(error: ZodError, sourceName: string): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? formatPath(issue.path) : '(top level)';
      return `${sourceName}: ${where}: ${issue.message}`;
    })
    .join('\n');
}

/** `['resources', 0, 'kind']` -> `resources[0].kind`, the way people read a YAML path. */
function formatPath(parts: readonly PropertyKey[]): string {
  return parts
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
