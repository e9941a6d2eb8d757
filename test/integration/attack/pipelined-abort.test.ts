/**
 * Attack finding: a client that pipelines requests on one keep-alive connection and then closes
 * it left every request after the first running: Node emits no `close` on a queued (pipelined)
 * ServerResponse whose socket goes away, so the gateway never saw the client leave. Their
 * upstream calls kept going and their budget reservations stayed held until the upstream answered
 * or timed out (300 s by default): 3 pipelined requests to a slow target, then close → 2 requests
 * still running upstream, the team's budget refusing `budget_exceeded` meanwhile. Every admitted
 * request of a closed connection now ends (upstream aborted, reservation released or charged).
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';
import { eventually } from '../../helpers/eventually.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function pipelineThenClose(
  url: string,
  key: string,
  count: number,
  onSent: () => Promise<void>,
): Promise<void> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ model: 'stalling', messages: [] });
  const one =
    `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(one.repeat(count));
      onSent().then(() => {
        socket.destroy();
        resolve();
      }, reject);
    });
    socket.on('error', () => undefined);
  });
}

describe('pipelined requests of a connection the client closes', () => {
  it('all end: every upstream call is aborted and every admission is ended', async () => {
    h = await startHarness({ upstreamTimeoutMs: 60_000 });
    const harness = h;
    const key = harness.newKey();
    const abortedBefore = harness.mock.stats().aborted;
    await pipelineThenClose(harness.url, key, 3, () =>
      eventually(() => harness.mock.stats().requests === 3, { timeoutMs: 5_000, what: '3 upstream calls' }),
    );
    await eventually(() => harness.mock.stats().aborted - abortedBefore === 3, {
      timeoutMs: 5_000,
      what: 'every upstream call aborted',
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(harness.mock.stats().aborted - abortedBefore).toBe(3);
    expect(harness.admission.calls.map((c) => c.kind)).toEqual(['abort', 'abort', 'abort']);
  }, 20_000);
});
