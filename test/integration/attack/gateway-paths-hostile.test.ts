/**
 * Attack round, hostile clients at the gateway over raw sockets: path variants that node:http's
 * exact match misses but Hono's router still maps to a proxy route (`#x`, `%63hat`, `/./`),
 * encoded slashes, other methods, header variants. Never a 500; OpenAI-shaped errors. A client
 * that leaves while sending its body on the Hono-routed path used to make the body read throw:
 * 500 `internal_error`, logged at error level with a stack ("a bug: never expected for any
 * input"), so any client could fill the error log and the internal_error metric at will.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

let h: Harness;
let key: string;
const errors: unknown[] = [];

beforeAll(async () => {
  h = await startHarness({ deps: (deps) => ({ ...deps, onError: (error) => errors.push(error) }) });
  key = h.newKey();
});
afterAll(() => h.close());
beforeEach(() => {
  errors.length = 0;
});

/** Writes `text` on a fresh socket; the answer's first line and body (or what came before close). */
function raw(
  text: string,
  options: { leaveAfterMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const port = Number(new URL(h.url).port);
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (data) => (out += data.toString('latin1')));
    const done = () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
      resolve({ status, body: out.slice(out.indexOf('\r\n\r\n') + 4) });
    };
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(text, 'latin1');
    if (options.leaveAfterMs !== undefined) setTimeout(() => socket.destroy(), options.leaveAfterMs);
    else setTimeout(() => socket.end(), 500);
  });
}

const body = JSON.stringify({
  model: 'gpt-test',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 5,
});
const post = (path: string, headers: string[] = [`authorization: Bearer ${key}`], payload = body) =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\n${headers.map((line) => `${line}\r\n`).join('')}content-length: ${Buffer.byteLength(payload, 'latin1')}\r\nconnection: close\r\n\r\n${payload}`;

describe('hostile client requests at the gateway (raw sockets)', () => {
  it.each([
    ['/v1/chat/completions#x', 200],
    ['/v1/%63hat/completions', 200],
    ['/v1/./chat/completions', 200],
    ['/v1/chat%2Fcompletions', 404],
    ['//v1/chat/completions', 404],
    ['/v1/chat/completions/', 404],
  ])('POST %s → %i, never a 500', async (path, status) => {
    const answer = await raw(post(path));
    expect(answer.status).toBe(status);
    if (status !== 200) expect(JSON.parse(answer.body).error.code).toBe('not_found');
    expect(errors).toEqual([]);
  });

  it.each(['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])(
    '%s on a proxy route → 404 not_found',
    async (method) => {
      const answer = await raw(post('/v1/chat/completions').replace(/^POST/, method));
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body).error.code).toBe('not_found');
    },
  );

  it.each([
    ['a tab after Bearer', 'missing_api_key', ['authorization: bearer\tKEY']],
    ['Basic', 'missing_api_key', ['authorization: Basic KEY']],
    ['whitespace inside the key', 'invalid_api_key', ['authorization: Bearer KEY_HEAD KEY_TAIL']],
    ['two x-api-key headers', 'invalid_api_key', ['x-api-key: KEY', 'x-api-key: KEY']],
    [
      'a bad key first of two',
      'invalid_api_key',
      ['authorization: Bearer kg_bad', 'authorization: Bearer KEY'],
    ],
  ])('%s → 401 %s', async (_what, code, headers) => {
    const withKey = headers.map((line) =>
      line.replace('KEY_HEAD', key.slice(0, 9)).replace('KEY_TAIL', key.slice(9)).replace('KEY', key),
    );
    const answer = await raw(post('/v1/chat/completions', withKey));
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.code).toBe(code);
  });

  it.each(['/v1/chat/completions', '/v1/chat/completions#x'])(
    'a client leaving mid-body on %s is no internal error',
    async (path) => {
      const partial = post(path).slice(0, -20);
      for (let i = 0; i < 3; i++) await raw(partial, { leaveAfterMs: 50 });
      // Give a late failure its chance to be reported.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(errors).toEqual([]);
      const metrics = await h.metrics.registry.metrics();
      expect(metrics).not.toMatch(/code="internal_error"\} [1-9]/);
      // And the key still works.
      await eventually(async () => (await raw(post(path))).status === 200, {
        what: 'a full request answered',
      });
    },
  );
});
