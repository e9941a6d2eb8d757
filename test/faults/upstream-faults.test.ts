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
});
