/**
 * Memory outside the V8 heap per cached key (issue 15: RSS with 100,000 keys filled by cache
 * misses). 10,000 keys go through the real miss path of a gateway: KeyPolicyCache → BatchLoader →
 * AdminClient over HTTP (undici) to a plain node:http server answering `POST /internal/keys` as
 * the admin plane does. After a full GC, what the cached keys hold in ArrayBuffers and external
 * memory must stay near zero: a policy (or its hash) that kept a slice of a response Buffer or of
 * a Buffer pool slab would keep kilobytes per key alive outside the heap, which heap figures and
 * the per-key heap test do not see. Measured when written: 0.8 bytes per key for both; a 32-byte
 * Buffer kept on each policy (`Buffer.from(hash, "hex")`) shows as ~197 bytes per key.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../gateway/admin-client.js';
import { BatchLoader } from '../../../src/cache/batch-loader.js';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { systemClock } from '../../../src/clock.js';
import { NO_LIMITS } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';

const KEYS = 10_000;
const CONCURRENT = 50;
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function policyOf(hash: string): ResolvedKeyPolicy {
  const keyId = `key_${hash.slice(0, 24)}`;
  return {
    keyId,
    keyName: `bench-${hash.slice(0, 8)}`,
    tokenHash: hash,
    status: 'active',
    expiresAt: null,
    key: { id: keyId, limits: { ...NO_LIMITS, rpm: 1_000_000, tpm: 1_000_000_000 }, spendMicros: 0 },
    tags: [],
    allowRequestTags: false,
    team: { id: 'team_0123456789abcdef01234567', limits: NO_LIMITS, spendMicros: 5 },
    org: { id: 'org_0123456789abcdef01234567', limits: NO_LIMITS, spendMicros: 7 },
    effectiveTargets: ['gpt-4o-mini'],
    version: 5,
    appliedBatchSeq: 0,
  };
}

let server: Server;
let adminUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { hashes } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { hashes: string[] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ policies: hashes.map(policyOf) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  adminUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('memory outside the heap per cached key', () => {
  it('keys loaded by batched misses over HTTP keep under 64 bytes each of ArrayBuffers and external memory after a GC', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const admin = new AdminClient({
      adminUrl,
      internalSecret: 'test-internal-secret-0123456789-abcdef',
      gatewayId: 'gw-memory',
      clock: systemClock,
      loadTimeoutMs: 10_000,
    });
    const loader = new BatchLoader({ source: admin });
    const cache = new KeyPolicyCache({
      source: loader,
      clock: systemClock,
      maxKeys: KEYS + 1_000,
      ttlMs: 1_800_000,
      negativeTtlMs: 5_000,
    });
    const hashes = Array.from({ length: KEYS }, (_, i) => hex(`memory-${i}`));
    // Warm the client's connections and parser first: their buffers are per process, not per key.
    await Promise.all(hashes.slice(0, CONCURRENT).map((hash) => cache.resolve(hash)));
    gc();
    gc();
    const before = process.memoryUsage();
    for (let i = CONCURRENT; i < KEYS; i += CONCURRENT) {
      const found = await Promise.all(hashes.slice(i, i + CONCURRENT).map((hash) => cache.resolve(hash)));
      if (found.some((lookup) => !lookup.ok)) throw new Error('a key did not load');
    }
    gc();
    gc();
    const after = process.memoryUsage();
    const loaded = KEYS - CONCURRENT;
    expect(cache.size).toBe(KEYS);
    expect(loader.stats.batches).toBeGreaterThan(KEYS / 256);
    expect((after.arrayBuffers - before.arrayBuffers) / loaded).toBeLessThan(64);
    expect((after.external - before.external) / loaded).toBeLessThan(64);
    await admin.close();
  });
});
