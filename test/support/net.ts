import net from 'node:net';

/**
 * A TCP port that is free on loopback right now: the OS picks it (port 0), we close the listener and
 * hand the number to a child server. A tiny race remains (another process could take it first), which
 * is fine for tests and much rarer than picking numbers ourselves.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
