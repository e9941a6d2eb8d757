/**
 * An upstream that misbehaves on request, for the fault tests (issue 13). The model name decides:
 * - `cut-<n>`: an SSE chat stream that sends n chunks, then drops the connection;
 * - `big-<mb>`: a 200 OK JSON chat answer of about mb MiB, written in 64 KiB chunks;
 * - `hang`: never answers (until the client goes away);
 * - anything else: a small JSON chat answer with usage (10 in, 5 out).
 * Runnable: `node --import tsx test/faults/fault-upstream.ts --port <n>`.
 */
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';

const CHUNK = Buffer.alloc(64 * 1024, 'a');

/** Requests of model `hang` received so far (tests wait for one before they stop the gateway). */
export const faultUpstreamStats = { hanging: 0 };

export function createFaultUpstream(): Server {
  return createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      let model = '';
      try {
        model = String((JSON.parse(raw) as { model?: unknown }).model ?? '');
      } catch {
        // health checks have no body
      }
      const cut = /^cut-(\d+)$/.exec(model);
      const big = /^big-(\d+)$/.exec(model);
      if (model === 'hang') {
        faultUpstreamStats.hanging++;
        return;
      }
      if (cut !== null) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let sent = 0;
        const timer = setInterval(() => {
          if (sent === Number(cut[1])) {
            clearInterval(timer);
            res.socket?.destroy();
            return;
          }
          sent++;
          const chunk = {
            id: 'c',
            object: 'chat.completion.chunk',
            choices: [{ index: 0, delta: { content: 'x' } }],
          };
          res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        }, 5);
        return;
      }
      if (big !== null) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(
          '{"id":"big","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"',
        );
        let left = Math.ceil((Number(big[1]) * 1024 * 1024) / CHUNK.length);
        const more = (): void => {
          while (left > 0) {
            left--;
            if (!res.write(CHUNK)) {
              res.once('drain', more);
              return;
            }
          }
          res.end('"}}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}');
        };
        res.on('close', () => (left = 0));
        more();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'ok',
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
    });
  });
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  const at = process.argv.indexOf('--port');
  createFaultUpstream().listen(Number(process.argv[at + 1]), '127.0.0.1');
}
