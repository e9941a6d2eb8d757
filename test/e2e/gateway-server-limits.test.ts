/**
 * Issue 10, item 13: a slow client cannot hold a gateway socket for minutes. Headers and the whole
 * request each have a configured deadline (KEYGATE_HEADERS_TIMEOUT_MS, KEYGATE_REQUEST_TIMEOUT_MS),
 * and KEYGATE_MAX_CONNECTIONS caps open sockets. Real startGateway, raw TCP clients.
 */
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type StartedGateway } from '../../gateway/main.js';
import { loadConfig } from '../../src/config/config.js';
import { freePort } from '../helpers/processes.js';

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway(
    loadConfig({
      KEYGATE_GATEWAY_PORT: '0',
      KEYGATE_ADMIN_URL: `http://127.0.0.1:${await freePort()}`,
      KEYGATE_INTERNAL_SECRET: 'server-limits-test-secret-0123456789abcdef',
      KEYGATE_LOG_LEVEL: 'silent',
      KEYGATE_HEADERS_TIMEOUT_MS: '300',
      KEYGATE_REQUEST_TIMEOUT_MS: '600',
      KEYGATE_MAX_CONNECTIONS: '3',
    }),
    { logger: pino({ level: 'silent' }) },
  );
});
afterAll(() => gateway.close());

/** Opens a socket, writes `text`, resolves with what the server sent and how long until it closed. */
function hold(text: string, limitMs = 5000): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(gateway.port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${limitMs} ms`));
    }, limitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closedAfterMs: Date.now() - started });
    });
  });
}

describe('gateway server limits', () => {
  it('a client that never finishes its headers is answered 408 and cut within the headers timeout', async () => {
    const { answer, closedAfterMs } = await hold(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-slow: 1\r\n',
    );
    expect(answer).toContain('408');
    expect(closedAfterMs).toBeLessThan(3000);
  });

  it('a client that never finishes its body is cut within the request timeout', async () => {
    const { closedAfterMs } = await hold(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":',
    );
    expect(closedAfterMs).toBeLessThan(3000);
  });

  it('connections beyond KEYGATE_MAX_CONNECTIONS are refused', async () => {
    const open: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const socket = connect(gateway.port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        open.push(socket);
      }
      await new Promise((resolve) => setTimeout(resolve, 50)); // the server has accepted all three
      const { answer, closedAfterMs } = await hold('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(answer).toBe('');
      expect(closedAfterMs).toBeLessThan(1000);
    } finally {
      for (const socket of open) socket.destroy();
    }
  });
});
