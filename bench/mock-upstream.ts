/**
 * A fast OpenAI-compatible mock upstream for tests, the demo and the bench (plain node:http, no
 * framework, so it is never the bottleneck). It answers chat/completions, completions,
 * embeddings and responses under any path prefix, streams SSE with a configurable chunk count and
 * delay, reports `usage` in both modes (the stream usage chunk only when
 * `stream_options.include_usage` is set), and can fail or stall on demand:
 *
 * - model `mock-fail-<status>` answers that status with an OpenAI error body;
 * - model `mock-stall` never answers (until the client goes away);
 * - model `mock-slow-<ms>` waits that long before answering;
 * - headers `x-mock-chunks` / `x-mock-chunk-delay-ms` override the streaming shape per request;
 * - `POST /__control` `{chunks?, chunkDelayMs?, failStatus?, stall?}` changes the defaults;
 * - `GET /__last` returns the last request (method, path, headers, body); `GET /__stats` counts.
 *
 * Usage figures are deterministic: prompt_tokens = ceil(prompt characters / 4), completion_tokens
 * = number of content chunks (streaming) or 8 (non-streaming).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  /** Content chunks per streamed answer (default 5). */
  chunks?: number;
  /** Delay between streamed chunks in ms (default 0). */
  chunkDelayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface MockUpstream {
  url: string;
  port: number;
  /** The last request received on an API path (not the control paths). */
  last(): RecordedRequest | undefined;
  stats(): MockStats;
  close(): Promise<void>;
}

export interface MockStats {
  requests: number;
  /** Requests whose client went away before the answer was complete. */
  aborted: number;
  /** Requests whose answer was completely written. */
  completed: number;
}

interface Control {
  chunks: number;
  chunkDelayMs: number;
  failStatus: number | null;
  stall: boolean;
}

const NON_STREAM_COMPLETION_TOKENS = 8;
const EMBEDDING = [0.5, 0.25, 0.125];
/** What the official clients ask for by default (`encoding_format: "base64"`): little-endian float32. */
const EMBEDDING_BASE64 = Buffer.from(new Float32Array(EMBEDDING).buffer).toString('base64');

export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const control: Control = {
    chunks: options.chunks ?? 5,
    chunkDelayMs: options.chunkDelayMs ?? 0,
    failStatus: null,
    stall: false,
  };
  const stats: MockStats = { requests: 0, aborted: 0, completed: 0 };
  let lastRequest: RecordedRequest | undefined;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      handle(req, res, raw);
    });
  });
  server.keepAliveTimeout = 65_000;

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/__last') return json(res, 200, lastRequest ?? null);
    if (path === '/__stats') return json(res, 200, stats);
    if (path === '/__control' && req.method === 'POST') {
      const patch = parse(raw) as Partial<Control> | undefined;
      if (patch !== undefined && typeof patch === 'object' && patch !== null) Object.assign(control, patch);
      return json(res, 200, control);
    }
    if (path === '/healthz') return json(res, 200, { ok: true });

    const kind = endpointOf(path);
    if (kind === undefined || req.method !== 'POST') {
      return json(res, 404, errorPayload(`no route ${req.method} ${path}`, 'not_found'));
    }
    const body = parse(raw);
    lastRequest = { method: req.method, path, headers: req.headers, body };
    stats.requests++;
    let finished = false;
    res.on('finish', () => {
      finished = true;
      stats.completed++;
    });
    res.on('close', () => {
      if (!finished) stats.aborted++;
    });
    if (body === undefined || typeof body !== 'object' || body === null) {
      return json(res, 400, errorPayload('body must be a JSON object', 'invalid_request'));
    }
    const request = body as Record<string, unknown>;
    const model = typeof request.model === 'string' ? request.model : 'mock';

    const failMatch = /^mock-fail-(\d{3})$/.exec(model);
    const failStatus = failMatch !== null ? Number(failMatch[1]) : control.failStatus;
    if (failStatus !== null) {
      return json(res, failStatus, errorPayload(`mock failure ${failStatus}`, 'mock_failure'));
    }
    if (model === 'mock-stall' || control.stall) return; // never answer; the socket stays open
    const slowMatch = /^mock-slow-(\d+)$/.exec(model);
    const answer = (): void => answerRequest(req, res, kind, request, model, control);
    if (slowMatch !== null) setTimeout(answer, Number(slowMatch[1]));
    else answer();
  }

  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    port,
    last: () => lastRequest,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Endpoint = 'chat' | 'completions' | 'embeddings' | 'responses';

function endpointOf(path: string): Endpoint | undefined {
  if (path.endsWith('/chat/completions')) return 'chat';
  if (path.endsWith('/completions')) return 'completions';
  if (path.endsWith('/embeddings')) return 'embeddings';
  if (path.endsWith('/responses')) return 'responses';
  return undefined;
}

function answerRequest(
  req: IncomingMessage,
  res: ServerResponse,
  kind: Endpoint,
  body: Record<string, unknown>,
  model: string,
  control: Control,
): void {
  const promptTokens = Math.ceil(promptCharacters(body) / 4);
  const created = Math.floor(Date.now() / 1000);
  if (kind === 'embeddings') {
    return json(res, 200, {
      object: 'list',
      data: [
        {
          object: 'embedding',
          index: 0,
          embedding: body.encoding_format === 'base64' ? EMBEDDING_BASE64 : EMBEDDING,
        },
      ],
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }
  if (body.stream === true) {
    const chunks = headerNumber(req, 'x-mock-chunks') ?? control.chunks;
    const delay = headerNumber(req, 'x-mock-chunk-delay-ms') ?? control.chunkDelayMs;
    const options = body.stream_options as { include_usage?: unknown } | undefined;
    const includeUsage = options?.include_usage === true;
    return stream(res, kind, model, created, chunks, delay, includeUsage, promptTokens);
  }
  const completionTokens = NON_STREAM_COMPLETION_TOKENS;
  const text = 'mock answer';
  if (kind === 'responses') {
    return json(res, 200, {
      id: 'resp_mock',
      object: 'response',
      created_at: created,
      model,
      status: 'completed',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] }],
      usage: {
        input_tokens: promptTokens,
        output_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  }
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  if (kind === 'completions') {
    return json(res, 200, {
      id: 'cmpl-mock',
      object: 'text_completion',
      created,
      model,
      choices: [{ index: 0, text, finish_reason: 'stop', logprobs: null }],
      usage,
    });
  }
  return json(res, 200, {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage,
  });
}

function stream(
  res: ServerResponse,
  kind: Endpoint,
  model: string,
  created: number,
  chunks: number,
  delayMs: number,
  includeUsage: boolean,
  promptTokens: number,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: chunks,
    total_tokens: promptTokens + chunks,
  };
  let sent = 0;
  const event = (payload: unknown, name?: string): string =>
    `${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(payload)}\n\n`;
  const chunkFor = (index: number): string => {
    const text = `tok${index} `;
    if (kind === 'responses')
      return event({ type: 'response.output_text.delta', delta: text }, 'response.output_text.delta');
    if (kind === 'completions') {
      return event({
        id: 'cmpl-mock',
        object: 'text_completion',
        created,
        model,
        choices: [{ index: 0, text, finish_reason: null }],
      });
    }
    return event({
      id: 'chatcmpl-mock',
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [
        {
          index: 0,
          delta: index === 0 ? { role: 'assistant', content: text } : { content: text },
          finish_reason: null,
        },
      ],
      ...(includeUsage ? { usage: null } : {}),
    });
  };
  const finish = (): void => {
    if (kind === 'responses') {
      res.end(
        event(
          {
            type: 'response.completed',
            response: {
              id: 'resp_mock',
              object: 'response',
              model,
              status: 'completed',
              usage: {
                input_tokens: promptTokens,
                output_tokens: chunks,
                total_tokens: promptTokens + chunks,
              },
            },
          },
          'response.completed',
        ),
      );
      return;
    }
    let tail = '';
    if (includeUsage) {
      const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
      tail += event({ id: 'mock-usage', object, created, model, choices: [], usage });
    }
    res.end(`${tail}data: [DONE]\n\n`);
  };
  const next = (): void => {
    if (res.destroyed) return;
    if (sent >= chunks) return finish();
    res.write(chunkFor(sent++));
    if (delayMs > 0) setTimeout(next, delayMs);
    else next();
  };
  next();
}

function promptCharacters(body: Record<string, unknown>): number {
  let total = 0;
  const add = (value: unknown): void => {
    if (typeof value === 'string') total += value.length;
    else if (Array.isArray(value)) for (const item of value) add(item);
    else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      add(record.content);
      add(record.text);
    }
  };
  add(body.messages);
  add(body.prompt);
  add(body.input);
  return total;
}

function headerNumber(req: IncomingMessage, name: string): number | undefined {
  const value = req.headers[name];
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function parse(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function errorPayload(message: string, code: string): unknown {
  return { error: { message, type: 'mock_error', code, param: null } };
}

function json(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const mock = await startMockUpstream({
    port: Number(flag('--port') ?? 0),
    host: flag('--host') ?? '127.0.0.1',
    chunks: flag('--chunks') !== undefined ? Number(flag('--chunks')) : undefined,
    chunkDelayMs: flag('--chunk-delay-ms') !== undefined ? Number(flag('--chunk-delay-ms')) : undefined,
  });
  process.stdout.write(`mock-upstream listening on ${mock.url}\n`);
  const stop = (): void => {
    void mock.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
