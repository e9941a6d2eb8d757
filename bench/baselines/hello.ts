/**
 * Baseline: raw node:http hello world, the ceiling of any Node HTTP server on this machine.
 * Runnable as a process: `node dist/bench/baselines/hello.js --port N`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const BODY = JSON.stringify({ hello: 'world' });

export async function startHello(port = 0, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    // Read (and discard) any request body so POST and GET cost the same as a real handler's.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  const index = process.argv.indexOf('--port');
  const { server, url } = await startHello(index > 0 ? Number(process.argv[index + 1]) : 0);
  process.stdout.write(`hello listening on ${url}\n`);
  const stop = (): void => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
