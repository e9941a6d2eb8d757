/**
 * The keys API against a real admin process (admin/main.ts) with a database file:
 *  - 20 concurrent self-service creates against max_keys_per_user = 3 make exactly 3 keys;
 *  - a revoke is pushed to a (fake) gateway's POST /internal/invalidate within 100 ms;
 *  - no secret ever reaches the database file (and its WAL) or the process's debug logs.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalTokens } from '../../src/invalidation/internal-token.js';
import type { ChangeBatch } from '../../src/invalidation/change.js';
import { openDatabase } from '../../src/storage/database.js';
import { spawnAdmin, type Spawned } from '../helpers/processes.js';
import { Seeder, sha256Hex, tokenMinter } from '../integration/admin/keys-fixtures.js';

const MASTER_KEY = 'e2e-master-key-0123456789abcdef';
const JWT_SECRET = 'e2e-jwt-secret-0123456789abcdefghijklmnop';
const INTERNAL_SECRET = 'e2e-internal-secret-0123456789abcdefghij';

interface Push {
  at: number;
  authorized: boolean;
  batch: ChangeBatch;
}

let dir: string;
let dbPath: string;
let admin: Spawned;
let gateway: Server;
const pushes: Push[] = [];
let teamId: string;
let devToken: string;
const secrets: string[] = [];

async function api(method: string, path: string, body?: unknown, token = MASTER_KEY) {
  const response = await fetch(`${admin.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? null : JSON.parse(text),
    receivedAt: performance.now(),
  };
}

function startFakeGateway(): Promise<Server> {
  const tokens = new InternalTokens(INTERNAL_SECRET);
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const at = performance.now();
      void tokens.verify(req.headers.authorization).then((authorized) => {
        if (req.method === 'POST' && req.url === '/internal/invalidate') {
          pushes.push({ at, authorized, batch: JSON.parse(body) as ChangeBatch });
        }
        res.statusCode = authorized ? 204 : 401;
        res.end();
      });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function waitFor<T>(find: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keygate-keys-e2e-'));
  dbPath = join(dir, 'keygate.db');
  const db = openDatabase(dbPath);
  const seed = new Seeder(db);
  const org = seed.org('e2e-org');
  teamId = seed.team(org, { name: 'e2e-team', ss_max_keys_per_user: 3 });
  const dev = seed.user('Dev');
  seed.teamMember(teamId, dev, 'team_developer');
  seed.target('gpt-4o-mini');
  db.close();
  devToken = await tokenMinter(openDatabase(':memory:'), JWT_SECRET)(dev);

  gateway = await startFakeGateway();
  admin = await spawnAdmin({
    KEYGATE_DB_PATH: dbPath,
    KEYGATE_MASTER_KEY: MASTER_KEY,
    KEYGATE_JWT_SECRET: JWT_SECRET,
    KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
    KEYGATE_GATEWAY_URLS: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`,
    KEYGATE_LOG_LEVEL: 'debug',
  });
});

afterAll(async () => {
  await admin?.stop();
  await new Promise((resolve) => gateway?.close(resolve));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('admin process: keys', () => {
  it('20 concurrent self-service creates against max_keys_per_user = 3 create exactly 3 keys', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api('POST', '/v1/keys', { name: `race-${i}`, team_id: teamId }, devToken),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 403)).toHaveLength(17);
    for (const r of results) {
      if (r.status === 403) expect(r.body.error.code).toBe('max_keys_per_user_reached');
      else secrets.push(r.body.secret as string);
    }
    const listed = await api('GET', '/v1/keys', undefined, devToken);
    expect(listed.body.data).toHaveLength(3);
  });

  it('a revoke reaches the gateway (signed push naming the key and its hash) within 100 ms of the answer', async () => {
    const created = await api('POST', '/v1/keys', { name: 'to-revoke', team_id: teamId });
    expect(created.status).toBe(201);
    secrets.push(created.body.secret as string);
    const { id, token_hash: hash } = created.body.key;
    await waitFor(() => pushes.find((p) => p.batch.changes.some((c) => c.entityId === id)), 2000);
    const revokeSeq = Math.max(...pushes.map((p) => p.batch.seq)) + 1;

    const revoked = await api('POST', `/v1/keys/${id}/revoke`);
    expect(revoked.status).toBe(200);
    const push = await waitFor(
      () => pushes.find((p) => p.batch.changes.some((c) => c.seq === revokeSeq)),
      1000,
    );
    expect(push.authorized).toBe(true);
    expect(push.batch.changes.find((c) => c.seq === revokeSeq)).toMatchObject({
      entityType: 'key',
      entityId: id,
      tokenHashes: [hash],
    });
    const lagMs = push.at - revoked.receivedAt;
    if (process.env.KEYGATE_TEST_VERBOSE !== undefined)
      console.info(`revoke push lag: ${lagMs.toFixed(2)} ms`);
    expect(lagMs).toBeLessThan(100);
  });

  it('regenerate with a grace period answers a new secret; both hashes resolve on the internal API, which refuses non-internal credentials', async () => {
    const created = await api('POST', '/v1/keys', { name: 'rotating', team_id: teamId });
    secrets.push(created.body.secret as string);
    const regenerated = await api('POST', `/v1/keys/${created.body.key.id}/regenerate`, {
      grace_period_seconds: 120,
    });
    expect(regenerated.status).toBe(200);
    secrets.push(regenerated.body.secret as string);
    const authorization = await new InternalTokens(INTERNAL_SECRET).authorizationHeader();
    const refused = await fetch(`${admin.url}/internal/keys/${regenerated.body.key.token_hash}`, {
      headers: { authorization: `Bearer ${MASTER_KEY}` },
    });
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    for (const secret of [created.body.secret, regenerated.body.secret]) {
      const res = await fetch(`${admin.url}/internal/keys/${sha256Hex(secret)}`, {
        headers: { authorization },
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  });

  it('no secret appears in the database file, its WAL, or the debug logs (hashes do)', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const scan = () =>
      ['', '-wal', '-shm']
        .map((suffix) => `${dbPath}${suffix}`)
        .filter((path) => existsSync(path))
        .map((path) => readFileSync(path).toString('latin1'))
        .join('\n');
    const check = (bytes: string) => {
      for (const secret of secrets) {
        expect(bytes.includes(secret)).toBe(false);
        expect(bytes.includes(secret.slice(3))).toBe(false);
      }
      // The scan reads real content: every stored hash is found.
      for (const secret of secrets) expect(bytes.includes(sha256Hex(secret))).toBe(true);
    };
    check(scan());
    const logs = admin.output();
    expect(logs).toContain('admin plane listening'); // the process's pino output was captured
    for (const secret of secrets) expect(logs.includes(secret.slice(3))).toBe(false);
    expect(await admin.stop()).toBe(0);
    check(scan());
    for (const secret of secrets) expect(admin.output().includes(secret.slice(3))).toBe(false);
  });
});
