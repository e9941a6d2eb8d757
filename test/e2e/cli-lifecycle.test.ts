/**
 * The `keygate` wrapper's lifecycle faults (issue 13, items 8 and 10):
 * - kill -9 of the `start` / `gateway` wrapper: its children notice the closed IPC channel and
 *   stop, so nothing keeps holding the ports (before: both planes kept running, orphaned).
 * - a busy port: `start` and `demo` say which address is taken and which variable to change,
 *   exit non-zero, and never print "running" (before: "running", then EADDRINUSE; the demo
 *   talked to the other instance and failed with a 401).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startCli, waitForHttp } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-cli-life-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds until none of the URLs answers any more (throws after timeoutMs). */
async function timeUntilGone(urls: string[], timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const alive = await Promise.all(urls.map(answers));
    if (!alive.includes(true)) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`still answering after ${timeoutMs} ms: ${urls.join(', ')}`);
}

describe('kill -9 of the keygate wrapper', () => {
  it('start: both planes stop within seconds and free their ports', async () => {
    const run = await startCli('start', ({ adminPort, gatewayPort }) => ({
      KEYGATE_DB_PATH: join(dir, 'start.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_GATEWAY_PORT: String(gatewayPort),
    }));
    const { adminPort, gatewayPort } = run;
    const urls = [`http://127.0.0.1:${adminPort}/healthz`, `http://127.0.0.1:${gatewayPort}/healthz`];
    try {
      for (const url of urls) await waitForHttp(url, 30_000);
      run.child.kill('SIGKILL');
      await run.exited;
      const goneMs = await timeUntilGone(urls);
      expect(goneMs).toBeLessThan(10_000);
      // The ports are free again: a new listener can take them.
      for (const port of [adminPort, gatewayPort]) {
        const server: Server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', resolve);
        });
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 60_000);

  it('gateway: the gateway child stops when its wrapper is killed', async () => {
    const gatewayPort = await freePort();
    const run = runCli('gateway', {
      KEYGATE_GATEWAY_PORT: String(gatewayPort),
      KEYGATE_ADMIN_URL: `http://127.0.0.1:${await freePort()}`,
      KEYGATE_INTERNAL_SECRET: randomBytes(32).toString('hex'),
    });
    const url = `http://127.0.0.1:${gatewayPort}/healthz`;
    try {
      await waitForHttp(url, 30_000);
      run.child.kill('SIGKILL');
      await run.exited;
      expect(await timeUntilGone([url])).toBeLessThan(10_000);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('busy ports', () => {
  async function holdPort(): Promise<{ port: number; close: () => Promise<unknown> }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return { port, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  for (const command of ['start', 'demo'] as const) {
    it(`${command}: names the busy address and the variable, exits 1, never says "running"`, async () => {
      const held = await holdPort();
      try {
        const run = runCli(command, {
          KEYGATE_DB_PATH: join(dir, `${command}-busy.db`),
          KEYGATE_ADMIN_PORT: String(await freePort()),
          KEYGATE_GATEWAY_PORT: String(held.port),
        });
        expect(await run.exited).toBe(1);
        expect(run.output()).toContain(`127.0.0.1:${held.port} is already in use`);
        expect(run.output()).toContain('KEYGATE_GATEWAY_PORT');
        expect(run.output()).not.toMatch(/keygate running|demo is running/);
        expect(run.output()).not.toContain('401');
      } finally {
        await held.close();
      }
    }, 60_000);
  }
});
