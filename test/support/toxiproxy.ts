/**
 * Toxiproxy for the fault-injection tests: a real toxiproxy-server (v2.12.0, built once by
 * scripts/ensure-toxiproxy.sh, or `$TOXIPROXY_SERVER`) on a free loopback port, killed on stop or when
 * the test process exits, and typed helpers over toxiproxy-node-client for the TCP faults the tests
 * use. Put one proxy between the worker and each provider endpoint (`upstream` host:port -> a new
 * loopback listen port) and point the provider at `proxy.url`.
 *
 * Toxics act on TCP connections, not on HTTP calls: `toxicity` is the fraction of connections a toxic
 * affects, drawn when the toxic is added (for the connections open then) and when each connection is
 * opened. Clients keep connections alive, so 0.3 means "about 30% of connections", which can be all
 * or none of a short test's calls: pass `seed` to `startToxiproxy` to make the draws repeatable.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Toxiproxy, type Proxy, type ToxicType } from 'toxiproxy-node-client';
import { freePort } from './net';

const STARTUP_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;

/**
 * Which half of the connection a toxic acts on: `upstream` is client -> server (the request),
 * `downstream` is server -> client (the response), toxiproxy's default.
 */
export type ToxicDirection = 'upstream' | 'downstream';

export interface ToxicOptions {
  /** Fraction of connections affected, 0..1; default 1 (all). */
  toxicity?: number;
  /** Default `downstream`. */
  direction?: ToxicDirection;
  /** Default `<type>-<n>`; a name already on the proxy is refused by toxiproxy. */
  name?: string;
}

/** A toxic on the server, as toxiproxy reports it. */
export interface ToxicInfo {
  name: string;
  type: ToxicType;
  stream: ToxicDirection;
  toxicity: number;
  attributes: Record<string, number>;
}

export interface RunningToxiproxy {
  /** The control API, `http://127.0.0.1:<port>`. */
  apiUrl: string;
  /** The underlying client, for anything the helpers do not cover. */
  client: Toxiproxy;
  /**
   * A new proxy listening on a fresh loopback port and forwarding to `upstream` (`host:port`, or a
   * URL whose host and port are taken). `name` defaults to `proxy-<n>`.
   */
  proxy(upstream: string, options?: { name?: string }): Promise<ToxicProxy>;
  /** Every proxy enabled again and every toxic removed (toxiproxy's `POST /reset`). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartToxiproxyOptions {
  /** Seeds toxiproxy's random draws (toxicity, latency jitter) so a run can be repeated. */
  seed?: number;
}

let binary: Promise<string> | undefined;

/** `$TOXIPROXY_SERVER` (checked by the script) or the cached build; once per process. */
function toxiproxyBinary(): Promise<string> {
  binary ??= (async () => {
    const script = path.resolve(__dirname, '../../scripts/ensure-toxiproxy.sh');
    try {
      const { stdout } = await promisify(execFile)('bash', [script], { maxBuffer: 1 << 20, timeout: 10 * 60_000 });
      return stdout.trim();
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new Error(`toxiproxy-server is not available for the tests: ${stderr || (error as Error).message}`, { cause: error });
    }
  })();
  return binary;
}

let shared: Promise<RunningToxiproxy> | undefined;

/** One toxiproxy-server for the run; tests keep apart by using their own proxies. */
export function sharedToxiproxy(): Promise<RunningToxiproxy> {
  shared ??= startToxiproxy();
  return shared;
}

export async function startToxiproxy(options: StartToxiproxyOptions = {}): Promise<RunningToxiproxy> {
  const server = await toxiproxyBinary();
  let lastError: unknown;
  // A free port can be taken between choosing it and binding it: try again on a fresh one.
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(server, options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(server: string, options: StartToxiproxyOptions): Promise<RunningToxiproxy> {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  // toxiproxy logs every connection; a file keeps that out of the test output but at hand on failure.
  const logFile = path.join(os.tmpdir(), `p0-test-toxiproxy-${process.pid}-${port}.log`);
  const log = fs.openSync(logFile, 'w');
  const args = ['-host', '127.0.0.1', '-port', String(port)];
  if (options.seed !== undefined) args.push('-seed', String(options.seed));
  const child = spawn(server, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  // A forgotten stop() must not hold the test process open; the exit hook still kills it.
  child.unref();
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
    child.once('error', (error) => {
      exited = error.message;
      resolve();
    });
  });
  const killOnExit = () => {
    child.kill('SIGKILL');
    fs.rmSync(logFile, { force: true });
  };
  // Synchronous, so it also runs when mocha ends the process with process.exit.
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (exited === undefined) {
      child.kill('SIGKILL');
      await gone;
    }
    fs.rmSync(logFile, { force: true });
  };

  const client = new Toxiproxy(apiUrl);
  try {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`toxiproxy-server ${exited} during start-up:\n${logTail(logFile)}`);
      try {
        await client.getVersion();
        break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`toxiproxy-server did not answer on ${apiUrl} within ${STARTUP_TIMEOUT_MS} ms:\n${logTail(logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  let proxies = 0;
  return {
    apiUrl,
    client,
    async proxy(upstream, proxyOptions = {}) {
      const name = proxyOptions.name ?? `proxy-${++proxies}`;
      // Port 0: toxiproxy binds a port the OS picks and reports it back, so no port is handed over to race for.
      const created = await client.createProxy({ name, listen: '127.0.0.1:0', upstream: hostPort(upstream), enabled: true });
      return new ToxicProxy(created);
    },
    reset: () => client.reset(),
    stop,
  };
}

/** One toxiproxy proxy and the faults it can put on its connections. */
export class ToxicProxy {
  /** `127.0.0.1:<port>`, where clients connect. */
  readonly listen: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`: give this to the client instead of the upstream's URL. */
  readonly url: string;
  private toxics = 0;

  constructor(private proxy: Proxy) {
    this.listen = proxy.listen;
    this.port = Number(proxy.listen.slice(proxy.listen.lastIndexOf(':') + 1));
    this.url = `http://${this.listen}`;
  }

  get name(): string {
    return this.proxy.name;
  }

  /** `host:port` the proxy forwards to. */
  get upstream(): string {
    return this.proxy.upstream;
  }

  /** The URL for another scheme (`https` when the upstream speaks TLS: toxiproxy passes bytes through). */
  urlFor(scheme: 'http' | 'https'): string {
    return `${scheme}://${this.listen}`;
  }

  /** Every byte delayed by `ms` +/- `jitter` (ms). Returns the toxic's name. */
  latency({ ms, jitter = 0 }: { ms: number; jitter?: number }, options: ToxicOptions = {}): Promise<string> {
    return this.add('latency', { latency: ms, jitter }, options);
  }

  /** Connections reset (TCP RST) after `timeout` ms (0 = at once). */
  resetPeer({ timeout = 0 }: { timeout?: number } = {}, options: ToxicOptions = {}): Promise<string> {
    return this.add('reset_peer', { timeout }, options);
  }

  /** No data gets through; the connection is closed after `ms` (0 = held open until the toxic is removed). */
  timeout({ ms }: { ms: number }, options: ToxicOptions = {}): Promise<string> {
    return this.add('timeout', { timeout: ms }, options);
  }

  /** The socket's close delayed by `delay` ms. */
  slowClose({ delay }: { delay: number }, options: ToxicOptions = {}): Promise<string> {
    return this.add('slow_close', { delay }, options);
  }

  /** At most `kilobytesPerSecond` KB/s. */
  bandwidth({ kilobytesPerSecond }: { kilobytesPerSecond: number }, options: ToxicOptions = {}): Promise<string> {
    return this.add('bandwidth', { rate: kilobytesPerSecond }, options);
  }

  /** Any other toxiproxy toxic (`slicer`, `limit_data`), attributes as toxiproxy names them. */
  async add(type: ToxicType, attributes: Record<string, number>, { toxicity = 1, direction = 'downstream', name }: ToxicOptions = {}): Promise<string> {
    if (!(toxicity >= 0 && toxicity <= 1)) throw new Error(`toxicity must be between 0 and 1, not ${toxicity}`);
    const toxic = await this.proxy.addToxic({ name: name ?? `${type}-${++this.toxics}`, type, stream: direction, toxicity, attributes });
    return toxic.name;
  }

  /** The toxics on the proxy now. */
  async list(): Promise<ToxicInfo[]> {
    const { data } = await this.proxy.api.get<ToxicInfo[]>(`${this.proxy.getPath()}/toxics`);
    return data;
  }

  async removeToxic(name: string): Promise<void> {
    await this.proxy.api.delete(`${this.proxy.getPath()}/toxics/${encodeURIComponent(name)}`);
  }

  /** Every toxic removed: the link is clean again (a disabled proxy stays disabled). */
  async removeAllToxics(): Promise<void> {
    for (const toxic of await this.list()) await this.removeToxic(toxic.name);
  }

  /**
   * A full outage: the proxy stops listening and drops every open connection, so clients get
   * "connection refused" until `enable()`.
   */
  async disable(): Promise<void> {
    await this.setEnabled(false);
  }

  /** Listens again, on the same port. */
  async enable(): Promise<void> {
    await this.setEnabled(true);
  }

  /** Deletes the proxy from the server. */
  remove(): Promise<void> {
    return this.proxy.remove();
  }

  private async setEnabled(enabled: boolean): Promise<void> {
    this.proxy = await this.proxy.update({ enabled, listen: this.listen, upstream: this.proxy.upstream });
  }
}

/** `host:port` of `http://host:port/...`, or the argument itself when it is already `host:port`. */
function hostPort(upstream: string): string {
  if (!upstream.includes('://')) return upstream;
  const url = new URL(upstream);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

function logTail(logFile: string): string {
  try {
    return fs.readFileSync(logFile, 'utf8').slice(-4_000);
  } catch {
    return '(no log)';
  }
}
