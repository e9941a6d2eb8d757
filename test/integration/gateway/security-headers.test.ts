/**
 * Issue 10, items 5, 6, 14 and 16 over real sockets: what crosses the gateway, both ways, is
 * allow-listed (JSON and SSE answers alike); a body with a duplicate key is refused before any
 * upstream call; /metrics can require a bearer token.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

/** An upstream that answers with every header the gateway must not pass on, and records requests. */
const HOSTILE_HEADERS: Record<string, string> = {
  'set-cookie': 'session=stolen',
  authorization: 'Bearer upstream-secret',
  'www-authenticate': 'Basic realm="provider"',
  'proxy-authorization': 'Basic eA==',
  'openai-organization': 'org-operator',
  'x-ratelimit-limit-requests': '999999',
  'x-ratelimit-remaining-tokens': '123',
  connection: 'keep-alive, x-hop-named',
  'x-hop-named': 'hop',
  'keep-alive': 'timeout=77',
  'openai-processing-ms': '42',
  'openai-version': '2020-10-01',
  'x-request-id': 'req_upstream_1',
};

let upstream: Server;
let upstreamUrl: string;
const received: IncomingHttpHeaders[] = [];
let h: Harness;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on('end', () => {
      if (req.headers.accept === 'text/event-stream') {
        res.writeHead(200, { ...HOSTILE_HEADERS, 'content-type': 'text/event-stream' });
        res.write('data: {"choices":[{"delta":{"content":"hi"}}]}\n\n');
        res.end('data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\ndata: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { ...HOSTILE_HEADERS, 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  h = await startHarness({
    extraTargets: [targetRoute('hostile', upstreamUrl)],
    deps: (deps) => ({ ...deps, metricsToken: 'metrics-token-0123456789' }),
  });
});
afterAll(async () => {
  await h.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** node:http, which (unlike fetch) lets the test send Connection and X-Forwarded-* as a client could. */
function send(
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${h.url}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const STRIPPED = [
  'set-cookie',
  'authorization',
  'www-authenticate',
  'proxy-authorization',
  'openai-organization',
  'x-hop-named',
];

describe('upstream response headers (allow-list)', () => {
  it.each([
    ['JSON', 'application/json'],
    ['SSE', 'text/event-stream'],
  ])(
    '%s: hostile headers are dropped, allowed ones pass, the upstream id is renamed',
    async (_kind, accept) => {
      const key = h.newKey();
      const body = JSON.stringify({ model: 'hostile', stream: accept !== 'application/json', messages: [] });
      const response = await send(
        '/v1/chat/completions',
        { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept },
        body,
      );
      expect(response.status).toBe(200);
      for (const name of STRIPPED) expect(response.headers[name], name).toBeUndefined();
      expect(response.headers['keep-alive']).not.toBe('timeout=77'); // Node's own keep-alive may stand
      // The provider's x-ratelimit-* never reach the client (this key has no windows: none at all).
      expect(Object.keys(response.headers).filter((name) => name.startsWith('x-ratelimit-'))).toEqual([]);
      expect(response.headers['openai-processing-ms']).toBe('42');
      expect(response.headers['openai-version']).toBe('2020-10-01');
      expect(response.headers['x-upstream-request-id']).toBe('req_upstream_1');
      expect(response.headers['x-request-id']).not.toBe('req_upstream_1');
      expect(response.headers['content-type']).toContain(accept);
    },
  );
});

describe('framing of whole answers', () => {
  it('a JSON answer and a refusal carry content-length, not chunked framing', async () => {
    const key = h.newKey();
    const body = JSON.stringify({ model: 'hostile', messages: [] });
    const json = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const answered = await send('/v1/chat/completions', json, body);
    expect(answered.status).toBe(200);
    expect(answered.headers['transfer-encoding']).toBeUndefined();
    expect(answered.headers['content-length']).toBe(String(Buffer.byteLength(answered.text)));
    const refused = await send('/v1/chat/completions', { ...json, authorization: 'Bearer kg_nope' }, body);
    expect(refused.status).toBe(401);
    expect(refused.headers['transfer-encoding']).toBeUndefined();
    expect(refused.headers['content-length']).toBe(String(Buffer.byteLength(refused.text)));
  });
});

describe('client request headers (allow-list)', () => {
  it('OpenAI-Organization, OpenAI-Project, X-Forwarded-*, cookies and Connection-named headers stay behind', async () => {
    const key = h.newKey();
    received.length = 0;
    const response = await send(
      '/v1/chat/completions',
      {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'openai-organization': 'org-attacker',
        'openai-project': 'proj-attacker',
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=10.0.0.1',
        'x-real-ip': '10.0.0.1',
        cookie: 'a=b',
        connection: 'keep-alive, x-custom',
        'x-custom': 'named in Connection, so hop-by-hop',
        'x-unlisted': 'not allow-listed',
        'user-agent': 'test-client/1.0',
        'x-stainless-lang': 'js',
      },
      JSON.stringify({ model: 'hostile', messages: [] }),
    );
    expect(response.status).toBe(200);
    const sent = received.at(-1)!;
    for (const name of [
      'openai-organization',
      'openai-project',
      'x-forwarded-for',
      'x-forwarded-host',
      'forwarded',
      'x-real-ip',
      'cookie',
      'x-custom',
      'x-unlisted',
    ]) {
      expect(sent[name], name).toBeUndefined();
    }
    expect(sent['user-agent']).toBe('test-client/1.0');
    expect(sent['x-stainless-lang']).toBe('js');
    expect(JSON.stringify(sent)).not.toContain(key);
  });
});

describe('duplicate JSON keys', () => {
  it.each([
    ['{"model":"hostile","model":"plain","messages":[]}', 'model'],
    ['{"model":"hostile","mod\\u0065l":"plain","messages":[]}', 'model'],
    ['{"model":"hostile","max_tokens":1,"max_tokens":100000,"messages":[]}', 'max_tokens'],
    [
      '{"model":"hostile","stream_options":{"include_usage":true,"include_usage":false},"messages":[]}',
      'include_usage',
    ],
  ])('%s → 400 invalid_request (param %s), nothing sent upstream', async (body, param) => {
    const key = h.newKey();
    received.length = 0;
    const response = await send(
      '/v1/chat/completions',
      { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    );
    expect(response.status).toBe(400);
    expect(JSON.parse(response.text).error).toMatchObject({ code: 'invalid_request', param });
    expect(received).toHaveLength(0);
  });

  it('the same key in two different objects is fine', async () => {
    const key = h.newKey();
    const response = await send(
      '/v1/chat/completions',
      { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      '{"model":"hostile","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}',
    );
    expect(response.status).toBe(200);
  });
});

describe('/metrics with KEYGATE_METRICS_TOKEN', () => {
  it('answers 401 without the token and 200 with it', async () => {
    expect((await h.app.request('/metrics')).status).toBe(401);
    expect((await h.app.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      401,
    );
    const ok = await h.app.request('/metrics', {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('keygate_gateway_requests_total');
  });
});
