/**
 * The per-request line (issue 13): every field of the trace, written through the plane's logger
 * (its level and destination) but without its redaction pass, which nothing in the line needs.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RequestLog } from '../../../gateway/request-log.js';

function capture(level: pino.Level) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text));
      done();
    },
  });
  const logger = pino(
    { name: 'gw', level, redact: { paths: ['secret', '*.secret'], censor: '[redacted]' } },
    sink,
  );
  return { logger, lines };
}

describe('RequestLog', () => {
  it('writes one info line per request with every trace field, at the logger level', () => {
    const { logger, lines } = capture('info');
    const log = new RequestLog(logger, undefined);
    const trace = log.begin('req-1', 'chat');
    Object.assign(trace, {
      keyId: 'key_1',
      keyName: 'search',
      teamId: 'team_1',
      target: 'small',
      code: 'ok',
      upstreamMs: 2.5,
      inputTokens: 10,
      outputTokens: 5,
      costMicros: 7,
    });
    log.end(trace, 200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      name: 'gw',
      msg: 'request',
      requestId: 'req-1',
      endpoint: 'chat',
      keyId: 'key_1',
      keyName: 'search',
      teamId: 'team_1',
      target: 'small',
      status: 200,
      code: 'ok',
      upstreamMs: 2.5,
      inputTokens: 10,
      outputTokens: 5,
      costMicros: 7,
    });
    expect(typeof lines[0]!.latencyMs).toBe('number');
  });

  it('writes nothing above info, and the plane logger keeps its redaction', () => {
    const { logger, lines } = capture('warn');
    const log = new RequestLog(logger, undefined);
    log.end(log.begin('req-2', 'chat'), 200);
    expect(lines).toEqual([]);
    logger.warn({ secret: 'kg_abc' }, 'other line');
    expect(lines[0]).toMatchObject({ secret: '[redacted]' });
  });
});
