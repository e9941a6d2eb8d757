/**
 * retryIfPortTaken (test/helpers/free-ports.ts) against a real failing bind: a port that another
 * process took between freePort() and the child's listen is met by starting again on a new one.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { portTaken, retryIfPortTaken } from '../helpers/free-ports.js';
import { freePort, spawnTs, type Spawned } from '../helpers/processes.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A port held by a listener of ours (what a parallel test file's server would be). */
async function takenPort(): Promise<number> {
  const holder: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
  return (holder.address() as { port: number }).port;
}

describe('retryIfPortTaken', () => {
  it('starts the child again on a new port when the first was taken before it could bind', async () => {
    const taken = await takenPort();
    const tried: number[] = [];
    const mock = await retryIfPortTaken(async (): Promise<Spawned> => {
      const port = tried.length === 0 ? taken : await freePort();
      tried.push(port);
      return spawnTs('bench/mock-upstream.ts', {
        url: `http://127.0.0.1:${port}`,
        env: {},
        args: ['--port', String(port)],
      });
    });
    cleanups.push(() => mock.stop());
    expect(tried).toHaveLength(2);
    expect(tried[0]).toBe(taken);
    expect(mock.url).toBe(`http://127.0.0.1:${tried[1]}`);
    expect((await fetch(`${mock.url}/healthz`)).status).toBeLessThan(500);
  }, 60_000);

  it('passes any other failure through at once', async () => {
    let calls = 0;
    const failing = retryIfPortTaken(async () => {
      calls++;
      throw new Error('admin/main.ts exited with 1 before it was ready: bad config');
    });
    await expect(failing).rejects.toThrow(/bad config/);
    expect(calls).toBe(1);
    expect(portTaken(Object.assign(new Error('listen'), { code: 'EADDRINUSE' }))).toBe(true);
  });
});
