import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ShutdownController } from '../../../gateway/shutdown.js';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server = undefined;
});

async function serve(handler: (url: string, res: import('node:http').ServerResponse) => void) {
  const srv = createServer();
  const shutdown = new ShutdownController(srv);
  srv.on(
    'request',
    shutdown.wrap((req, res) => handler(req.url ?? '', res)),
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  server = srv;
  return { shutdown, port: (srv.address() as AddressInfo).port };
}

function get(
  port: number,
  path: string,
  agent: Agent,
): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ShutdownController', () => {
  it('drains under steady keep-alive load within 1 s (the deadline is 15 s)', async () => {
    const { shutdown, port } = await serve((_url, res) => setTimeout(() => res.end('ok'), 5));
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          await get(port, '/', agent);
        } catch {
          return; // refused or reset: the server stopped accepting / closed an idle connection
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const result = await shutdown.drain(15_000);
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    expect(result.drainMs, `drain time under steady keep-alive load: ${result.drainMs} ms`).toBeLessThan(
      1000,
    );
    expect(result.aborted).toBe(0);
  });

  it('a response in flight when the drain begins answers connection: close', async () => {
    const { shutdown, port } = await serve((_url, res) => setTimeout(() => res.end('ok'), 100));
    const agent = new Agent({ keepAlive: true });
    await get(port, '/', agent); // a keep-alive connection exists
    const inFlight = get(port, '/', agent);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const result = await shutdown.drain(15_000);
    expect((await inFlight).connection).toBe('close');
    expect(result).toMatchObject({ inFlightAtStart: 1, finished: 1, aborted: 0 });
    agent.destroy();
  });

  it('a hung request is aborted at the deadline (300 ms here), not held for the upstream timeout', async () => {
    const { shutdown, port } = await serve((url, res) => {
      if (url === '/fast') res.end('ok');
      // '/hung' never answers
    });
    const agent = new Agent({ keepAlive: true });
    const hung = get(port, '/hung', agent).catch((error: Error) => error);
    await get(port, '/fast', agent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const result = await shutdown.drain(300);
    expect(result.drainMs, `drain time with a hung request: ${result.drainMs} ms`).toBeLessThan(800);
    expect(result.aborted).toBe(1);
    expect(await hung).toBeInstanceOf(Error);
    agent.destroy();
  });
});
