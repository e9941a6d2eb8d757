/**
 * The operator's view of each proxied request (issue 13, items 13 and 14): one info line per
 * request when its response closes, and the labelled metrics, from one trace the proxy fills
 * as the request goes (key and team at admission, upstream latency when the upstream answered,
 * tokens and cost when the settlement booked them).
 *
 * Line fields: requestId, endpoint, keyId, keyName, teamId, target, status, code, latencyMs,
 * upstreamMs, inputTokens, outputTokens, costMicros. The secret is never in it (the trace holds
 * only ids and names). Metrics are labelled by team, target and code, never by key.
 */
import pino, { type Logger } from 'pino';

export interface RequestTrace {
  requestId: string;
  endpoint: string;
  startedAt: number;
  keyId?: string;
  keyName?: string;
  teamId?: string;
  target?: string;
  /** Outcome code: ok, an error code, upstream_<status> or client_closed. */
  code?: string;
  upstreamMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  costMicros?: number;
}

/** What the metrics side needs of one ended request (GatewayMetrics.request). */
export interface RequestMetricsSink {
  request(trace: RequestTrace, status: number): void;
}

export class RequestLog {
  /**
   * The line is built here and written straight to the logger's destination: the same JSON shape
   * and prefix (level, time, pid, hostname, name) as the plane's other lines, for about a quarter
   * fewer instructions than pino's generic serialization of an object (~9,000 per line, callgrind;
   * bench/README.md "Logging cost"), and without its redaction pass, which nothing here needs.
   * No JSON.stringify (~900 instructions per string, mostly setup): strings are quoted as they
   * are unless they hold something to escape; the time prefix is reused within a millisecond and
   * the key fields while the key does not change.
   */
  private readonly out: pino.DestinationStream;
  /** `,"pid":…,"hostname":…,"name":…` as pino writes it for this logger. */
  private readonly bindings: string;
  private readonly infoLevel: number;
  /** Few distinct values, mostly the same one: the field text of the last value is reused. */
  private readonly endpointText = new LastField('endpoint');
  private readonly codeText = new LastField('code');
  private headTime = -1;
  private headText = '';
  private lastKey: Pick<RequestTrace, 'keyId' | 'keyName' | 'teamId' | 'target'> & { text: string } = {
    text: '',
  };

  constructor(
    private readonly logger: Logger,
    private readonly metrics: RequestMetricsSink | undefined,
  ) {
    const internals = logger as unknown as Record<symbol, unknown>;
    this.out = internals[pino.symbols.streamSym] as pino.DestinationStream;
    this.bindings = internals[pino.symbols.chindingsSym] as string;
    this.infoLevel = logger.levels.values.info!;
  }

  begin(requestId: string, endpoint: string): RequestTrace {
    return { requestId, endpoint, startedAt: performance.now() };
  }

  end(trace: RequestTrace, status: number): void {
    this.metrics?.request(trace, status);
    if (!this.logger.isLevelEnabled('info')) return;
    const latencyMs = Math.round((performance.now() - trace.startedAt) * 100) / 100;
    this.out.write(
      this.head() +
        quote(trace.requestId) +
        this.endpointText.of(trace.endpoint) +
        this.keyFields(trace) +
        ',"status":' +
        status +
        this.codeText.of(trace.code) +
        figure('latencyMs', latencyMs) +
        figure('upstreamMs', trace.upstreamMs) +
        figure('inputTokens', trace.inputTokens) +
        figure('outputTokens', trace.outputTokens) +
        figure('costMicros', trace.costMicros) +
        ',"msg":"request"}\n',
    );
  }

  /** `{"level":30,"time":…` and the bindings up to `"requestId":`, rebuilt when the millisecond changes. */
  private head(): string {
    const now = Date.now();
    if (now !== this.headTime) {
      this.headTime = now;
      this.headText = `{"level":${this.infoLevel},"time":${now}${this.bindings},"requestId":`;
    }
    return this.headText;
  }

  /** keyId, keyName, teamId and target, kept while requests come with the same key (the usual case). */
  private keyFields(trace: RequestTrace): string {
    const last = this.lastKey;
    if (
      trace.keyId !== last.keyId ||
      trace.keyName !== last.keyName ||
      trace.teamId !== last.teamId ||
      trace.target !== last.target
    ) {
      this.lastKey = {
        keyId: trace.keyId,
        keyName: trace.keyName,
        teamId: trace.teamId,
        target: trace.target,
        text:
          text('keyId', trace.keyId) +
          text('keyName', trace.keyName) +
          text('teamId', trace.teamId) +
          text('target', trace.target),
      };
    }
    return this.lastKey.text;
  }
}

/** `,"name":"value"` of a string field, kept for the last value (no regular expression test per line). */
class LastField {
  private value: string | undefined;
  private text = '';
  constructor(private readonly name: string) {}

  of(value: string | undefined): string {
    if (value !== this.value || this.text === '') {
      this.value = value;
      this.text = text(this.name, value);
    }
    return this.text;
  }
}

/** Characters JSON.stringify escapes: quote, backslash, control characters, (lone) surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal, as JSON.stringify writes it (its slow general path only when needed). */
export function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"';
}

/** A string field, left out when undefined (as JSON.stringify of an object would). */
function text(name: string, value: string | undefined): string {
  return value === undefined ? '' : ',"' + name + '":' + quote(value);
}

/** A number field, left out when undefined; null when not finite (as JSON.stringify would). */
function figure(name: string, value: number | undefined): string {
  if (value === undefined) return '';
  return Number.isFinite(value) ? ',"' + name + '":' + decimal(value) : ',"' + name + '":null';
}

/**
 * A finite number as JSON writes it. Hundredths (latencies) are written from their integer
 * count, which V8 turns into text far faster than the general shortest-decimal conversion; the
 * text is the same (a double equal to h / 100, |h| < 2^31, has that 2-decimal form as its
 * shortest round-trip representation).
 */
export function decimal(value: number): string {
  const hundredths = Math.round(value * 100);
  if (hundredths / 100 !== value || hundredths > 0x7fffffff || hundredths < -0x7fffffff) return String(value);
  const sign = hundredths < 0 ? '-' : '';
  const magnitude = Math.abs(hundredths);
  const fraction = magnitude % 100;
  const whole = sign + (magnitude - fraction) / 100;
  if (fraction === 0) return whole;
  if (fraction % 10 === 0) return whole + '.' + fraction / 10;
  return whole + (fraction < 10 ? '.0' : '.') + fraction;
}
