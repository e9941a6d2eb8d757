/**
 * Baseline: a bare pass-through proxy to the mock upstream: node:http in, undici out with the
 * gateway's keep-alive pool settings, no auth, no body parsing, no limits. The gap between this
 * row and `hot-key` is what keygate's own work costs.
 * Runnable as a process: `node dist/bench/baselines/bare-proxy.js --port N --upstream URL`.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Agent } from 'undici';

/**
 * The gateway's upstream pool settings (gateway/proxy/upstream-client.ts with the default
 * KEYGATE_UPSTREAM_TIMEOUT_MS): keep them equal, or the comparison measures the pool, not keygate.
 */
export const UPSTREAM_POOL = {
  connections: 256,
  keepAliveTimeout: 30_000,
  connectTimeout: 10_000,
  headersTimeout: 300_000,
  bodyTimeout: 300_000,
} as const;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

function forwardable(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startBareProxy(
  upstream: string,
  port = 0,
  host = '127.0.0.1',
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const agent = new Agent(UPSTREAM_POOL);
  const server = createServer((req, res) => {
    const method = (req.method ?? 'GET') as 'GET' | 'HEAD' | 'POST';
    agent
      .request({
        origin: upstream,
        path: req.url ?? '/',
        method,
        headers: forwardable(req.headers),
        body: method === 'GET' || method === 'HEAD' ? null : req,
      })
      .then((answer) => {
        res.writeHead(answer.statusCode, forwardable(answer.headers));
        answer.body.on('error', () => res.destroy());
        answer.body.pipe(res);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(
          '{"error":{"message":"upstream failed","type":"api_error","code":"upstream_error","param":null}}',
        );
      });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    server,
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await agent.close();
    },
  };
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  const flag = (name: string): string | undefined => {
    const index = process.argv.indexOf(name);
    return index > 0 ? process.argv[index + 1] : undefined;
  };
  const upstream = flag('--upstream');
  if (upstream === undefined) {
    process.stderr.write('usage: bare-proxy --upstream URL [--port N]\n');
    process.exit(2);
  }
  const proxy = await startBareProxy(upstream, Number(flag('--port') ?? 0));
  process.stdout.write(`bare-proxy listening on ${proxy.url} -> ${upstream}\n`);
  const stop = (): void => {
    void proxy.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
