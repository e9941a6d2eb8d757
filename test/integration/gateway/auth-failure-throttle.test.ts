/**
 * Issue 10 item 9, gateway side: failed key lookups from one client address are throttled
 * (429 too_many_auth_failures with retry-after, before any hashing or admin load), and the
 * admin loads of unknown keys are capped gateway-wide.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { generateSecret, hashSecret } from '../../../src/keys/secret.js';
import { AuthFailureThrottle } from '../../../src/ratelimit/auth-failure-throttle.js';
import { UnknownKeyLoadCap, UnknownKeyLoadCapReached } from '../../../src/ratelimit/unknown-key-load-cap.js';
import { FakeKeySource, policyFor } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const chat = (url: string, key: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('gateway: failed key lookups per client address', () => {
  it('unknown keys with valid checksums: 401 up to the limit, then 429 for every key, no more loads', async () => {
    const throttle = new AuthFailureThrottle(
      { points: 5, durationSec: 60, blockDurationSec: 90 },
      { keyPrefix: `gw-test-${Math.random()}` },
    );
    harness = await startHarness({ deps: (deps) => ({ ...deps, authThrottle: throttle }) });
    const valid = harness.newKey();
    expect((await chat(harness.url, valid)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await chat(harness.url, generateSecret())).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const loadsBefore = harness.source.loads;
    const blocked = await chat(harness.url, generateSecret());
    const refusedAfter = await chat(harness.url, generateSecret());
    expect([blocked.status, refusedAfter.status]).toEqual([401, 429]);
    const body = (await refusedAfter.json()) as { error: { code: string } };
    expect(body.error.code).toBe('too_many_auth_failures');
    expect(Number(refusedAfter.headers.get('retry-after'))).toBeGreaterThanOrEqual(89);
    // Blocked before hashing and loading: even the valid key is refused, and nothing is loaded.
    const loadsBlocked = harness.source.loads;
    expect((await chat(harness.url, valid)).status).toBe(429);
    expect(harness.source.loads).toBe(loadsBlocked);
    expect(loadsBlocked - loadsBefore).toBe(1);
  });

  it('without a throttle (or with honest traffic) nothing changes: 50 requests of a known key all pass', async () => {
    const throttle = new AuthFailureThrottle(
      { points: 3, durationSec: 60, blockDurationSec: 60 },
      { keyPrefix: `gw-test-${Math.random()}` },
    );
    harness = await startHarness({ deps: (deps) => ({ ...deps, authThrottle: throttle }) });
    const valid = harness.newKey();
    for (let i = 0; i < 50; i++) expect((await chat(harness.url, valid)).status).toBe(200);
  });
});

describe('a failed authentication is counted before its answer leaves', () => {
  it('with a store that answers slowly (Redis under load), the failure is in the shared count when the 401 arrives', async () => {
    // A shared store 30 ms away: each consume lands 30 ms after it is sent.
    class SlowStore extends RateLimiterMemory {
      override async consume(key: string | number, points?: number) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return super.consume(key, points);
      }
    }
    const store = new SlowStore({ keyPrefix: 'slow', points: 3, duration: 60, blockDuration: 60 });
    const throttle = new AuthFailureThrottle(
      { points: 3, durationSec: 60, blockDurationSec: 60 },
      { keyPrefix: 'slow', createLimiter: () => store },
    );
    harness = await startHarness({ deps: (deps) => ({ ...deps, authThrottle: throttle }) });
    expect((await chat(harness.url, generateSecret())).status).toBe(401);
    expect((await store.get('127.0.0.1'))?.consumedPoints).toBe(1);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(harness.url, generateSecret())).status);
    // The 4th failure is refused by the store and blocks at once: the 5th request is refused.
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('gateway-wide cap of unknown-key loads', () => {
  it('after N unknown answers in one second, further loads are skipped until the next second', async () => {
    const clock = new ManualClock(1_000_000);
    const source = new FakeKeySource();
    const known = hashSecret(generateSecret());
    source.policies.set(known, policyFor(known));
    const capped = new UnknownKeyLoadCap(source, 3, clock);
    for (let i = 0; i < 3; i++) expect(await capped.load(hashSecret(generateSecret()))).toBeNull();
    await expect(capped.load(hashSecret(generateSecret()))).rejects.toBeInstanceOf(UnknownKeyLoadCapReached);
    await expect(capped.load(known)).rejects.toBeInstanceOf(UnknownKeyLoadCapReached);
    expect(source.loads).toBe(3);
    clock.advance(1000);
    expect(await capped.load(known)).not.toBeNull();
    expect(source.loads).toBe(4);
  });
});
