/**
 * The AWS clients' call bounds (providers/aws/errors.ts: 5 s to connect, 15 s for an answer) keep a
 * stalled IAM endpoint from holding a grant or a removal for an activity's whole timeout: a call
 * stalled past a bound is cut, and the SDK tries again. Checked on the product's own provider, built
 * by createAwsIamProvider from the SDK's environment as the worker builds it, against moto. The call
 * is the reconciler's listing of marked grants, whose first IAM call (ListUsers) stands alone:
 *
 * - an answer that does not come: Toxiproxy between the provider and moto delays moto's replies by
 *   20 s (a `latency` toxic); a fault proxy behind Toxiproxy sees the call arrive again once the
 *   first attempt is cut at 15 s; then the toxic goes (Toxiproxy hands over what it was holding)
 *   and the retry's answer arrives;
 * - a connection that does not complete: a listener whose accept queue is full (it never accepts),
 *   so the TCP handshake hangs; once the first attempt is cut at 5 s, the port forwards to moto and
 *   the retry goes through.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createAwsIamProvider } from '../providers/aws/iamProvider';
import { FaultProxy } from './support/faultProxy';
import { sharedMoto } from './support/harness';
import { MOTO_AWS_SETTINGS } from './support/moto';
import { sharedToxiproxy } from './support/toxiproxy';

/** Runs `call` with the SDK's endpoint set to `endpoint` (as AWS_ENDPOINT_URL points the worker at moto). */
async function withEndpoint<T>(endpoint: string, call: () => T | Promise<T>): Promise<T> {
  const saved = process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL = endpoint;
  try {
    return await call();
  } finally {
    process.env.AWS_ENDPOINT_URL = saved;
  }
}

/**
 * A loopback port where connecting hangs: a listener (python3, which the tests need for moto anyway)
 * with a backlog of 0 that never accepts, its one queue place taken, so the kernel leaves every
 * later handshake unanswered.
 */
async function stalledPort(): Promise<{ port: number; stop: () => void }> {
  const listener: ChildProcess = spawn('python3', ['-c', "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  const filler = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => filler.once('connect', resolve).once('error', reject));
  // The queue is full once a handshake goes unanswered.
  const probe = net.connect(port, '127.0.0.1');
  const answered = await new Promise<boolean>((resolve) => {
    probe.once('connect', () => resolve(true));
    setTimeout(() => resolve(false), 300);
  });
  probe.destroy();
  assert.equal(answered, false, 'a connection to the full listener completed: the kernel does not drop handshakes here');
  return {
    port,
    stop: () => {
      filler.destroy();
      listener.kill('SIGKILL');
    },
  };
}

describe('AWS call bounds', function () {
  this.timeout(60_000);
  let motoEndpoint: string;

  before(async () => {
    ({ endpoint: motoEndpoint } = await sharedMoto());
  });

  it('cuts a call whose answer does not come within 15 s, and the retry goes through', async () => {
    const counter = await FaultProxy.start({ dialect: 'aws', upstream: motoEndpoint });
    const toxiproxy = await sharedToxiproxy();
    const link = await toxiproxy.proxy(counter.url);
    try {
      await link.latency({ ms: 20_000 });
      const provider = await withEndpoint(link.url, () => createAwsIamProvider(MOTO_AWS_SETTINGS));
      const startedAt = Date.now();
      const listed = withEndpoint(link.url, () => provider.listMarked());
      while (counter.callsOf('ListUsers').length < 2 && Date.now() - startedAt < 25_000) await new Promise((resolve) => setTimeout(resolve, 20));
      await link.removeAllToxics();
      assert.ok(Array.isArray(await listed));
      const tookMs = Date.now() - startedAt;
      const [first, second] = counter.callsOf('ListUsers');
      assert.ok(first && second && second.requestBody === first.requestBody, `the stalled call was made again: ${counter.calls.map((call) => call.operation).join(', ')}`);
      const gapMs = second.at - first.at;
      assert.ok(gapMs >= 14_500 && gapMs < 18_000, `tried again ${gapMs} ms after the stalled attempt`);
      assert.ok(tookMs < 20_000, `the call took ${tookMs} ms`);
    } finally {
      await link.remove();
      await counter.stop();
    }
  });

  it('cuts a connection attempt that does not complete within 5 s, and the retry goes through', async () => {
    const stalled = await stalledPort();
    const endpoint = `http://127.0.0.1:${stalled.port}`;
    const provider = await withEndpoint(endpoint, () => createAwsIamProvider(MOTO_AWS_SETTINGS));
    const startedAt = Date.now();
    const listed = withEndpoint(endpoint, () => provider.listMarked());
    // Past the bound, the port stops stalling: it forwards to moto.
    await new Promise((resolve) => setTimeout(resolve, 5_300));
    stalled.stop();
    let forwarded = 0;
    const moto = new URL(motoEndpoint);
    const sockets = new Set<net.Socket>();
    const forwarder = net.createServer((socket) => {
      forwarded += 1;
      sockets.add(socket);
      const upstream = net.connect(Number(moto.port), moto.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.once('error', () => upstream.destroy());
      upstream.once('error', () => socket.destroy());
    });
    // The listener's port is free once its process is gone (a moment after the kill).
    for (let attempt = 1; ; attempt++) {
      const listening = await new Promise<boolean>((resolve) => {
        forwarder.once('error', () => resolve(false));
        forwarder.listen(stalled.port, '127.0.0.1', () => resolve(true));
      });
      if (listening) break;
      assert.ok(attempt < 50, `port ${stalled.port} still taken`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      assert.ok(Array.isArray(await listed));
      const tookMs = Date.now() - startedAt;
      assert.ok(tookMs >= 4_900 && tookMs < 10_000, `the call took ${tookMs} ms`);
      assert.ok(forwarded > 0, 'the retry reached moto');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => forwarder.close(resolve));
    }
  });
});
