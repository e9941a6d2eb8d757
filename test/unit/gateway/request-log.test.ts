/**
 * The per-request line (issue 13): every field of the trace, written to the plane logger's
 * destination at its level, built by hand (no redaction pass, no generic serialization) in
 * exactly the shape pino gives its own lines.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RequestLog, decimal, quote } from '../../../gateway/request-log.js';

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

  it('has the shape pino gives the same fields: the same keys in the same order, the same prefix', () => {
    const { logger, lines } = capture('info');
    const log = new RequestLog(logger, undefined);
    const trace = Object.assign(log.begin('req-3', 'embeddings'), {
      keyId: 'key_3',
      code: 'ok',
      upstreamMs: 4,
    });
    log.end(trace, 200);
    logger.child({}, { redact: [] }).info(
      {
        requestId: 'req-3',
        endpoint: 'embeddings',
        keyId: 'key_3',
        status: 200,
        code: 'ok',
        latencyMs: 0,
        upstreamMs: 4,
      },
      'request',
    );
    const [mine, pinos] = lines as [Record<string, unknown>, Record<string, unknown>];
    expect(Object.keys(mine)).toEqual(Object.keys(pinos));
    expect({ ...mine, time: 0, latencyMs: 0 }).toEqual({ ...pinos, time: 0, latencyMs: 0 });
    expect(Math.abs((mine.time as number) - Date.now())).toBeLessThan(5000);
  });

  it('leaves out what a refused request never had, escapes names, and writes non-finite figures as null', () => {
    const { logger, lines } = capture('info');
    const log = new RequestLog(logger, undefined);
    log.end(Object.assign(log.begin('req-4', 'chat'), { code: 'invalid_api_key' }), 401);
    const named = Object.assign(log.begin('req-5', 'chat'), {
      keyName: 'team "a"\nback\\slash ünï',
      upstreamMs: Number.NaN,
      costMicros: Number.POSITIVE_INFINITY,
    });
    log.end(named, 200);
    expect(lines).toHaveLength(2); // both parsed as JSON by capture()
    expect(lines[0]).toMatchObject({ requestId: 'req-4', status: 401, code: 'invalid_api_key' });
    expect(
      ['keyId', 'keyName', 'teamId', 'target', 'upstreamMs', 'inputTokens'].some((k) => k in lines[0]!),
    ).toBe(false);
    expect(lines[1]).toMatchObject({
      keyName: 'team "a"\nback\\slash ünï',
      upstreamMs: null,
      costMicros: null,
    });
  });
});

describe('JSON pieces of the line', () => {
  it('decimal writes a number exactly as JSON.stringify does (hundredths, integers, others)', () => {
    const values = [0, -0, 1, 0.01, 0.1, 0.5, 2.57, 10.1, 12.3, 99.99, 100, -0.05, -12.34, 1234567.89];
    for (let i = 0; i < 20_000; i++) values.push(i / 100, (i * 7919) / 100, i * 1_000_003, i / 3, i * 1e15);
    values.push(Date.now(), 2 ** 31, 2 ** 53, 1e21, 1.5e-7, Number.MAX_VALUE);
    const wrong = values.filter((value) => decimal(value) !== JSON.stringify(value));
    expect(wrong).toEqual([]);
  });

  it('quote writes a string exactly as JSON.stringify does (escapes, control characters, surrogates)', () => {
    const texts = [
      '',
      'key_1',
      'team "a"',
      'back\\slash',
      'line\nfeed',
      '\u0000\u001f\u007f',
      'ünï 😀',
      '\u2028',
    ];
    texts.push('lone \ud800 high', 'lone \udc00 low', '\udc00\ud800');
    const wrong = texts.filter((text) => quote(text) !== JSON.stringify(text));
    expect(wrong).toEqual([]);
  });
});
