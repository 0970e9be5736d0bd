/**
 * Where the CLI finds the API and its token: `p0 login` stores both in
 * `$XDG_CONFIG_HOME/p0/config.json` (default `~/.config/p0/config.json`), mode 0600 because the
 * token is a credential; `P0_API_URL` and `P0_TOKEN` override the file, one by one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface StoredConfig {
  apiUrl?: string;
  token?: string;
}

/** What a command talks to, and where the token came from (for messages). */
export interface Connection {
  apiUrl: string;
  token?: string;
  tokenFrom?: 'P0_TOKEN' | 'config';
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
  return path.join(base, 'p0');
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'config.json');
}

export function readStoredConfig(env: NodeJS.ProcessEnv = process.env): StoredConfig {
  const file = configPath(env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON: delete it and run p0 login`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${file} is not a p0 config: delete it and run p0 login`);
  }
  const { apiUrl, token } = parsed as Record<string, unknown>;
  return {
    apiUrl: typeof apiUrl === 'string' ? apiUrl : undefined,
    token: typeof token === 'string' ? token : undefined,
  };
}

/**
 * Writes the config readable by its owner only: a temporary file created with mode 0600, then
 * renamed over the old one, so the token is never briefly world-readable and a crash never leaves
 * half a file.
 */
export function writeStoredConfig(config: StoredConfig, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  const file = configPath(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = path.join(dir, `.config.json.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'w' });
    fs.chmodSync(temporary, 0o600); // in case a stale temporary file existed with other bits
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw new CliError(`cannot write ${file}: ${(error as Error).message}`);
  }
  return file;
}

/** `http://host:port` without a trailing slash, or a CliError saying what a URL looks like. */
export function normalizeApiUrl(text: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new CliError(`${origin}: "${text}" is not a URL: use e.g. ${DEFAULT_API_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`${origin}: "${text}" is not an http(s) URL: use e.g. ${DEFAULT_API_URL}`);
  }
  return url.toString().replace(/\/+$/, '');
}

export function resolveConnection(env: NodeJS.ProcessEnv = process.env): Connection {
  const stored = readStoredConfig(env);
  const envUrl = env.P0_API_URL?.trim();
  const envToken = env.P0_TOKEN?.trim();
  const connection: Connection = {
    apiUrl: envUrl ? normalizeApiUrl(envUrl, 'P0_API_URL') : stored.apiUrl ? normalizeApiUrl(stored.apiUrl, configPath(env)) : DEFAULT_API_URL,
  };
  if (envToken) {
    connection.token = envToken;
    connection.tokenFrom = 'P0_TOKEN';
  } else if (stored.token) {
    connection.token = stored.token;
    connection.tokenFrom = 'config';
  }
  return connection;
}
