/**
 * Where the CLI finds the API and its token: `p0 login` stores both in
 * `$XDG_CONFIG_HOME/p0/config.json` (default `~/.config/p0/config.json`), mode 0600 because the
 * token is a credential; `P0_API_URL` and `P0_TOKEN` override the file, one by one. The token goes
 * over plain http only to this machine, unless `p0 login --insecure-http` or P0_ALLOW_INSECURE_HTTP=1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface StoredConfig {
  apiUrl?: string;
  token?: string;
  /** `p0 login --insecure-http`: the token may go over plain http to `apiUrl` (that URL only). */
  insecureHttp?: boolean;
}

/** What a command talks to, and where the token came from (for messages). */
export interface Connection {
  apiUrl: string;
  token?: string;
  tokenFrom?: 'P0_TOKEN' | 'config';
  /** The token may go over plain http to a host other than this machine. */
  allowInsecureHttp?: boolean;
}

/** `P0_ALLOW_INSECURE_HTTP=1`: the token may go over plain http to any host. */
export function insecureHttpAllowedByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.P0_ALLOW_INSECURE_HTTP?.trim() === '1';
}

/**
 * Why the token must not be sent to `apiUrl`, or undefined when it may: over https, to this machine
 * (127.0.0.0/8, localhost, [::1]), or when plain http was allowed on purpose. Anyone on the network
 * path between here and another host could read a token sent in clear text.
 */
export function insecureHttpRefusal(connection: Pick<Connection, 'apiUrl' | 'allowInsecureHttp'>): string | undefined {
  const url = new URL(connection.apiUrl);
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname) || connection.allowInsecureHttp) return undefined;
  return `refusing to send your token over plain http to ${connection.apiUrl} (not this machine): anyone on the network path could read it. Use https://, or, on a network you trust, p0 login --insecure-http (or P0_ALLOW_INSECURE_HTTP=1)`;
}

/** A URL's hostname that names this machine: localhost, 127.0.0.0/8 or [::1] (the URL parser has normalised it). */
function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
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
  const { apiUrl, token, insecureHttp } = parsed as Record<string, unknown>;
  return {
    apiUrl: typeof apiUrl === 'string' ? apiUrl : undefined,
    token: typeof token === 'string' ? token : undefined,
    ...(insecureHttp === true ? { insecureHttp } : {}),
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
  const storedUrl = stored.apiUrl ? normalizeApiUrl(stored.apiUrl, configPath(env)) : undefined;
  const apiUrl = envUrl ? normalizeApiUrl(envUrl, 'P0_API_URL') : (storedUrl ?? DEFAULT_API_URL);
  const connection: Connection = {
    apiUrl,
    // The stored permission was given for the stored URL, not for whatever P0_API_URL names.
    allowInsecureHttp: insecureHttpAllowedByEnv(env) || (stored.insecureHttp === true && apiUrl === storedUrl),
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
