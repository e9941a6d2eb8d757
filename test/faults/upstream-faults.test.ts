/**
 * Issue 13, faults 5 and 6, against a real gateway process: big non-streaming answers cost
 * bounded memory, and a stream the upstream cuts ends with an OpenAI-shaped error event and is
 * charged for the output already delivered.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startFaultStack, type FaultStack } from './fault-stack.js';

let stack: FaultStack;
let secret: string;
beforeAll(async () => {
  stack = await startFaultStack({ KEYGATE_USAGE_FLUSH_MS: '100' });
  secret = await stack.seed(['small', 'big-200', 'cut-20']);
});
afterAll(() => stack.stop());

/** Peak resident set of a process since it started (VmHWM), in MiB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('upstream faults', () => {
  it('four 200 MB answers at once cost the gateway < 100 MB of extra peak RSS (issue: +1.68 GB)', async () => {
    expect((await stack.chat(secret, 'small')).status).toBe(200);
    const pid = stack.gateway.child.pid!;
    const before = peakRssMb(pid);
    const answers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const response = await stack.chat(secret, 'big-200');
        return { status: response.status, body: await response.text() };
      }),
    );
    const extra = peakRssMb(pid) - before;
    console.log(`[figure] extra peak RSS for 4 concurrent 200 MB answers: ${extra.toFixed(1)} MB`);
    expect(extra, `extra peak RSS for 4 × 200 MB answers: ${extra.toFixed(0)} MB`).toBeLessThan(100);
    for (const answer of answers) {
      expect(answer.status).toBe(502);
      expect(JSON.parse(answer.body).error.code).toBe('upstream_response_too_large');
    }
  });

  it('a stream cut after 20 chunks ends with an SSE error event and charges the 20 delivered tokens', async () => {
    const outputBefore = stack.recordedOutputTokens();
    const response = await stack.chat(secret, 'cut-20', { stream: true });
    expect(response.status).toBe(200);
    const text = await response.text(); // a bare reset would throw here
    expect(text).toMatch(
      /event: error\ndata: \{"error":\{"message":"[^"]+","type":"api_error","code":"upstream_error"/,
    );
    expect(text.match(/"delta"/g)).toHaveLength(20);
    const charged = await eventually(() => stack.recordedOutputTokens() - outputBefore === 20);
    expect(charged, `output tokens charged: ${stack.recordedOutputTokens() - outputBefore} (want 20)`).toBe(
      true,
    );
  });

  it('logs one line per request (ids, never the secret) and counts it in labelled metrics', async () => {
    const response = await stack.chat(secret, 'small', { metadata_probe: true });
    const requestId = response.headers.get('x-request-id');
    await response.arrayBuffer();
    let line: Record<string, unknown> | undefined;
    await eventually(() => {
      line = stack.gateway
        .output()
        .split('\n')
        .filter((text) => text.includes(`"requestId":"${requestId}"`) && text.includes('"msg":"request"'))
        .map((text) => JSON.parse(text) as Record<string, unknown>)[0];
      return line !== undefined;
    });
    expect(line).toMatchObject({
      level: 30,
      keyName: 'faults-key',
      target: 'small',
      status: 200,
      code: 'ok',
      inputTokens: 10,
      outputTokens: 5,
    });
    expect(typeof line!.keyId).toBe('string');
    expect(typeof line!.teamId).toBe('string');
    expect(typeof line!.latencyMs).toBe('number');
    expect(typeof line!.upstreamMs).toBe('number');
    expect(typeof line!.costMicros).toBe('number');
    expect(stack.gateway.output()).not.toContain(secret);
    const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /keygate_gateway_proxy_requests_total\{team="[^"]+",target="small",code="ok"\} \d+/,
    );
    expect(metrics).toMatch(/keygate_gateway_output_tokens_total\{team="[^"]+",target="small"\} \d+/);
    expect(metrics).toMatch(/keygate_gateway_upstream_latency_seconds_bucket\{le="[^"]+",target="small"\}/);
    expect(metrics).toMatch(/keygate_gateway_admin_breaker_state 0/);
    expect(metrics).toMatch(/keygate_gateway_usage_spool_bytes \d+/);
    expect(metrics).not.toMatch(/key_id|keyId/);
  });
});
