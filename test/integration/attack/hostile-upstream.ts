/**
 * An OpenAI-compatible upstream that misbehaves on request, for the attack tests. The model name
 * decides (the gateway forwards it unchanged for targets without an upstream model):
 * - `ok`: JSON chat answer with usage 10 in / 5 out, after `x-mock-delay-ms` (default 30 ms);
 * - `exact`: the same with the usage of header `x-mock-usage: <input>,<output>`;
 * - `no-usage`: the same without `usage`;
 * - `huge-usage`: usage 1e12 in / 1e12 out; `negative-usage`: -5 / -7; `string-usage`: "10" / "5";
 * - `bad-json`: 200 `application/json` whose body is not JSON;
 * - `fail-500`: 500 with an OpenAI error body;
 * - `sse-ok`: 3 content events, a usage event (10 / 3) and `[DONE]`;
 * - `sse-no-done`: 3 content events, then the body ends (no usage, no `[DONE]`);
 * - `sse-cut`: 3 content events, then the socket is destroyed;
 * - `sse-forever`: a content event every 10 ms until the client goes away;
 * - `sse-no-separator`: `x-mock-bytes` bytes of one `data:` line that never ends, then the end;
 * - `huge-headers`: a 200 whose headers are 100 KB;
 * - `short-body`: a 200 declaring 1,000 bytes that sends 20 and closes;
 * - `json-trickle`: a 200 JSON body sent one byte every 10 ms, never ending.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostileUpstream {
  url: string;
  /** Requests received per model. */
  received: Map<string, number>;
  /** Answers fully written per model. */
  finished: Map<string, number>;
  close(): Promise<void>;
}

const chunkEvent = (content: string) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;

export async function startHostileUpstream(): Promise<HostileUpstream> {
  const received = new Map<string, number>();
  const finished = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      let model = '';
      try {
        model = String((JSON.parse(Buffer.concat(parts).toString()) as { model?: unknown }).model ?? '');
      } catch {
        // not JSON: answered as `ok`
      }
      received.set(model, (received.get(model) ?? 0) + 1);
      res.on('finish', () => finished.set(model, (finished.get(model) ?? 0) + 1));
      const delay = Number(req.headers['x-mock-delay-ms'] ?? 30);
      setTimeout(() => answer(model, req.headers, res), delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    finished,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function json(res: import('node:http').ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

function chat(usage: unknown): string {
  return JSON.stringify({
    id: 'x',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    ...(usage === undefined ? {} : { usage }),
  });
}

function answer(
  model: string,
  headers: import('node:http').IncomingHttpHeaders,
  res: import('node:http').ServerResponse,
): void {
  switch (model) {
    case 'exact': {
      const [input, output] = String(headers['x-mock-usage'] ?? '0,0')
        .split(',')
        .map(Number);
      return json(res, 200, chat({ prompt_tokens: input, completion_tokens: output }));
    }
    case 'no-usage':
      return json(res, 200, chat(undefined));
    case 'huge-usage':
      return json(res, 200, chat({ prompt_tokens: 1e12, completion_tokens: 1e12, total_tokens: 2e12 }));
    case 'negative-usage':
      return json(res, 200, chat({ prompt_tokens: -5, completion_tokens: -7, total_tokens: -12 }));
    case 'string-usage':
      return json(res, 200, chat({ prompt_tokens: '10', completion_tokens: '5', total_tokens: '15' }));
    case 'bad-json':
      return json(res, 200, '{"id": "x", "usage": {"prompt_tokens": 10, ');
    case 'huge-headers':
      res.writeHead(200, { 'content-type': 'application/json', 'x-big': 'b'.repeat(100 * 1024) });
      res.end(chat({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }));
      return;
    case 'short-body':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":"x","usage":{');
      setTimeout(() => res.socket?.destroy(), 10);
      return;
    case 'json-trickle': {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 10);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case 'fail-500':
      return json(res, 500, '{"error":{"message":"boom","type":"server_error","code":null}}');
    case 'sse-ok':
    case 'sse-no-done':
    case 'sse-cut':
    case 'sse-forever':
    case 'sse-no-separator':
      return stream(model, headers, res);
    default:
      return json(res, 200, chat({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }));
  }
}

function stream(
  model: string,
  headers: import('node:http').IncomingHttpHeaders,
  res: import('node:http').ServerResponse,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  if (model === 'sse-no-separator') {
    const total = Number(headers['x-mock-bytes'] ?? 1024 * 1024);
    const piece = Buffer.alloc(16 * 1024, 'a');
    res.write('data: {"choices":[{"delta":{"content":"');
    let sent = 0;
    const more = (): void => {
      while (sent < total) {
        sent += piece.length;
        if (!res.write(piece)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => (sent = total));
    more();
    return;
  }
  if (model === 'sse-forever') {
    const timer = setInterval(() => res.write(chunkEvent('x')), 10);
    res.on('close', () => clearInterval(timer));
    return;
  }
  for (let i = 0; i < 3; i++) res.write(chunkEvent(`part${i}`));
  if (model === 'sse-cut') {
    setTimeout(() => res.socket?.destroy(), 10);
    return;
  }
  if (model === 'sse-no-done') {
    res.end();
    return;
  }
  const usage = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 };
  res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}
