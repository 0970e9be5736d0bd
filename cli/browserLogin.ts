/**
 * How `p0 login` gets a personal API token without anyone copying it by hand:
 * - through the browser: a one-shot listener on 127.0.0.1 (random port) waits while the person signs
 *   in; the server's page then POSTs the token to it, so it never sits in a URL (nor in any access
 *   log or browser history). The listener takes only the state it made up (compared in constant
 *   time), answers once and closes.
 * - with a device code (`--device`), for a machine without a browser: the person types the short
 *   code on `<server>/device` from any signed-in device while the CLI polls.
 */
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DeviceStartAnswer, DeviceTokenAnswer } from '../shared/api';
import type { CliIo } from './commandContext';
import { CliError } from './errors';

/** How long `p0 login` waits for the person to finish in the browser or on /device. */
const WAIT_MS = 10 * 60_000;
const MAX_BODY_BYTES = 8192;

export interface ReceivedToken {
  token: string;
  email: string;
}

/** Opens `url` in the system browser, if this machine seems to have one; false when it did not try. */
function openInBrowser(url: string, env: NodeJS.ProcessEnv): boolean {
  let command: string;
  let args: string[];
  if (process.platform === 'darwin') [command, args] = ['open', [url]];
  else if (process.platform === 'win32') [command, args] = ['rundll32', ['url.dll,FileProtocolHandler', url]];
  else if (env.DISPLAY || env.WAYLAND_DISPLAY) [command, args] = ['xdg-open', [url]];
  else return false;
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined); // no opener installed: the printed link is enough
    child.unref();
    return true;
  } catch {
    return false;
  }
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const DONE_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>p0 CLI signed in</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto"><h1>The p0 CLI is signed in</h1><p>You can close this tab and go back to your terminal.</p></body></html>`;

export async function loginThroughBrowser(options: { apiUrl: string; io: CliIo; openBrowser: boolean }): Promise<ReceivedToken> {
  const { apiUrl, io } = options;
  const state = randomBytes(24).toString('base64url');
  let settle: { resolve: (received: ReceivedToken) => void; reject: (error: Error) => void } | undefined;
  const received = new Promise<ReceivedToken>((resolve, reject) => (settle = { resolve, reject }));

  const server = http.createServer((req, res) => {
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end(body);
    };
    if (req.method !== 'POST' || req.url !== '/callback') return send(404, 'Not found');
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) req.destroy();
    });
    req.on('end', () => {
      const fields = new URLSearchParams(body);
      const token = fields.get('token') ?? '';
      const email = fields.get('email') ?? '';
      // Anything else on this machine could post here: only the state this run made up counts.
      if (!sameSecret(fields.get('state') ?? '', state) || !token) return send(400, 'This is not the sign-in this p0 login is waiting for.');
      send(200, DONE_PAGE);
      settle?.resolve({ token, email });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const link = `${apiUrl}/auth/cli?port=${port}&state=${encodeURIComponent(state)}`;
  const opened = options.openBrowser && openInBrowser(link, io.env);
  io.stderr.write(`${opened ? 'Opening your browser to sign in; if it does not open, visit' : 'To sign in, open this link in your browser'}:\n\n  ${link}\n\nWaiting for you to finish signing in (Ctrl-C to stop)...\n`);
  const timer = setTimeout(() => settle?.reject(new CliError(`nobody finished signing in within ${WAIT_MS / 60_000} minutes: run p0 login again`)), WAIT_MS);
  try {
    return await received;
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  }
}

export async function loginWithDevice(options: { apiUrl: string; io: CliIo }): Promise<ReceivedToken> {
  const { apiUrl, io } = options;
  const start = await postJson<DeviceStartAnswer>(apiUrl, '/auth/device', {});
  if (start.status !== 200) throw new CliError(`the p0 API at ${apiUrl} cannot sign in devices (HTTP ${start.status}): is it a p0 server with sign-in?`);
  const { deviceCode, userCode, verificationUrl, expiresIn, interval } = start.body;
  io.stderr.write(`On any device where you can sign in, open\n\n  ${verificationUrl}\n\nand enter the code\n\n  ${userCode}\n\nWaiting for you to confirm (the code works for ${Math.round(expiresIn / 60)} minutes)...\n`);
  const deadline = Date.now() + Math.min(expiresIn * 1000, WAIT_MS);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, interval) * 1000));
    const poll = await postJson<DeviceTokenAnswer & { status?: string }>(apiUrl, '/auth/device/token', { deviceCode });
    if (poll.status === 200) return { token: poll.body.token, email: poll.body.email };
    if (poll.status !== 202) throw new CliError('the device code was refused (expired or already used): run p0 login --device again');
  }
  throw new CliError('nobody confirmed the code in time: run p0 login --device again');
}

async function postJson<T>(apiUrl: string, path: string, body: unknown): Promise<{ status: number; body: T }> {
  let response: Response;
  try {
    response = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new CliError(`cannot reach the p0 API at ${apiUrl} (${cause?.code ?? (error as Error).message}): is it running?`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`unexpected answer from ${apiUrl}${path} (HTTP ${response.status}, not JSON): is that a p0 API?`);
  }
  return { status: response.status, body: parsed as T };
}
