/**
 * Issue 10, admin plane resource limits: body limit with authorization before parsing (item 8),
 * failed-authentication throttling (item 9), header/request timeouts and a connection cap (13).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin, type RunningAdmin } from '../../../admin/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { createTestAdmin, TEST_MASTER_KEY } from '../../helpers/admin-harness.js';
import { createWorld } from './identity-world.js';

const running: RunningAdmin[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(running.splice(0).map((admin) => admin.close()));
});

async function serveAdmin(env: Record<string, string>): Promise<RunningAdmin> {
  const admin = await startAdmin(
    loadConfig({
      KEYGATE_DB_PATH: ':memory:',
      KEYGATE_ADMIN_PORT: '0',
      KEYGATE_MASTER_KEY: TEST_MASTER_KEY,
      KEYGATE_LOG_LEVEL: 'silent',
      KEYGATE_GATEWAY_URLS: '',
      ...env,
    }),
  );
  running.push(admin);
  return admin;
}

describe('item 8: body limit, authorization before parsing', () => {
  it('a body over KEYGATE_ADMIN_MAX_BODY_BYTES → 413 request_too_large (declared or streamed)', async () => {
    const admin = createTestAdmin({ KEYGATE_ADMIN_MAX_BODY_BYTES: '2048' });
    const big = JSON.stringify({ name: 'x'.repeat(4096) });
    const declared = await admin.call('POST', '/v1/orgs', { body: big });
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('request_too_large');
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const streamed = await admin.app.request('/v1/orgs', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_MASTER_KEY}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    const small = await admin.call('POST', '/v1/orgs', { body: { name: 'fits' } });
    expect(small.status).toBe(201);
  });

  it('a caller who may not use a platform-only route is refused before its body is read (403, not 400)', async () => {
    const world = await createWorld();
    for (const path of ['/v1/orgs', '/v1/users', '/v1/targets']) {
      const response = await world.admin.call('POST', path, {
        token: world.tokens.org_owner,
        body: '{"not json',
      });
      expect(response.status, path).toBe(403);
    }
  });
});

describe('item 9: failed admin authentications are throttled per client address', () => {
  it('after N failures every request gets 429 with retry-after, before any credential check', async () => {
    const admin = createTestAdmin({
      KEYGATE_AUTH_FAILURE_POINTS: '5',
      KEYGATE_AUTH_FAILURE_WINDOW_SEC: '60',
      KEYGATE_AUTH_FAILURE_BLOCK_SEC: '120',
    });
    const credentials = admin.deps.credentials;
    let checks = 0;
    const isMasterKey = credentials.isMasterKey.bind(credentials);
    credentials.isMasterKey = (token) => {
      checks++;
      return isMasterKey(token);
    };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const token = i % 2 === 0 ? `wrong-master-key-${i}` : 'eyJhbGciOiJIUzI1NiJ9.e30.forged';
      statuses.push((await admin.call('GET', '/v1/me', { token })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const sixth = await admin.call('GET', '/v1/me', { token: 'wrong-again' });
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.code).toBe('too_many_auth_failures');
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThanOrEqual(119);
    const checksBefore = checks;
    const blocked = await admin.call('GET', '/v1/me');
    expect(blocked.status).toBe(429);
    expect(checks).toBe(checksBefore);
  });

  it('is on by default and keyed by the socket address over a real server', async () => {
    const admin = await serveAdmin({ KEYGATE_AUTH_FAILURE_POINTS: '3' });
    const get = (token: string) =>
      fetch(`${admin.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await get(TEST_MASTER_KEY)).toBe(200);
    expect([await get('bad-1'), await get('bad-2'), await get('bad-3'), await get('bad-4')]).toEqual([
      401, 401, 401, 429,
    ]);
    expect(await get(TEST_MASTER_KEY)).toBe(429);
    expect(loadConfig({}).authFailurePoints).toBeGreaterThan(0);
  });
});

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
    sockets.push(socket);
  });
}

function closedWithin(socket: Socket, ms: number): Promise<{ closed: boolean; data: string }> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    const timer = setTimeout(() => resolve({ closed: false, data }), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, data });
    });
  });
}

describe('item 13: slow clients and connection piles', () => {
  it('a client that never finishes its headers is cut off after KEYGATE_HEADERS_TIMEOUT_MS', async () => {
    const admin = await serveAdmin({ KEYGATE_HEADERS_TIMEOUT_MS: '300', KEYGATE_REQUEST_TIMEOUT_MS: '600' });
    const socket = await openSocket(admin.port);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const result = await closedWithin(socket, 5000);
    expect(result.closed).toBe(true);
    expect(result.data).toMatch(/^HTTP\/1\.1 408/);
  });

  it('connections over KEYGATE_MAX_CONNECTIONS are dropped', async () => {
    const admin = await serveAdmin({ KEYGATE_MAX_CONNECTIONS: '2' });
    await openSocket(admin.port);
    await openSocket(admin.port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const third = await openSocket(admin.port);
    third.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const result = await closedWithin(third, 3000);
    expect(result).toEqual({ closed: true, data: '' });
  });
});
