/**
 * Attack round, hostile upstream: an SSE answer whose one event never ends (no blank line) used
 * to be re-concatenated and re-scanned whole at every chunk in the usage filter: CPU quadratic in
 * its size (16 MiB cost ~35 s of the gateway's one thread, stalling every other request) and the
 * whole of it held in memory until the end. Now the filter's work is linear and an event larger
 * than SSE_MAX_EVENT_BYTES is passed on unparsed as it arrives.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { SSE_MAX_EVENT_BYTES } from '../../../gateway/proxy/sse-usage-filter.js';
import { eventually } from '../../helpers/eventually.js';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';
import { startHostileUpstream, type HostileUpstream } from './hostile-upstream.js';

const spend = new MemorySpendStore();
const limits = new LimitsAdmission({ spend });
let upstream: HostileUpstream;
let h: Harness;

beforeAll(async () => {
  upstream = await startHostileUpstream();
  h = await startHarness({
    admission: limits,
    extraTargets: [targetRoute('sse-no-separator', `${upstream.url}/v1`)],
  });
});
afterAll(async () => {
  await h.close();
  await upstream.close();
});

it('a 24 MiB event without an end costs linear CPU, streams out before its end, and settles', async () => {
  const bytes = 24 * 1024 * 1024;
  const key = h.newKey();
  const before = process.cpuUsage();
  const response = await fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${key}`,
      'x-mock-bytes': String(bytes),
    },
    body: JSON.stringify({ model: 'sse-no-separator', stream: true, messages: [] }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  let received = 0;
  let firstWhileUpstreamSending: boolean | undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.length;
    firstWhileUpstreamSending ??= (upstream.finished.get('sse-no-separator') ?? 0) === 0;
  }
  const cpu = process.cpuUsage(before);
  // Everything the upstream sent reaches the client (the prefix line + the payload).
  expect(received).toBeGreaterThanOrEqual(bytes);
  // The first bytes reached the client while the upstream was still sending.
  expect(firstWhileUpstreamSending).toBe(true);
  expect(bytes).toBeGreaterThan(SSE_MAX_EVENT_BYTES);
  // Gateway, upstream and client in this one process: linear work is well under a second here.
  expect((cpu.user + cpu.system) / 1000).toBeLessThan(5_000);
  await eventually(() => limits.inFlight === 0, { what: 'the ticket ended' });
}, 60_000);
