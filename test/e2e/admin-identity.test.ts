/**
 * Identity against a real admin process (admin/main.ts, database file, real HTTP):
 *  - a platform admin mints a JWT for a user, who then works within its memberships only;
 *  - removing a membership takes effect on the very next request;
 *  - deleting a user refuses its token at once, revokes the keys it owned, and pushes the key
 *    change (with the key's token hash) to the gateways; the internal API then answers revoked.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../src/invalidation/change.js';
import { InternalTokens } from '../../src/invalidation/internal-token.js';
import { spawnAdmin, type Spawned } from '../helpers/processes.js';

const MASTER_KEY = 'e2e-identity-master-key-0123456789';
const INTERNAL_SECRET = 'e2e-identity-internal-secret-0123456789ab';

let dir: string;
let admin: Spawned;
let gateway: Server;
const pushes: ChangeBatch[] = [];

async function api(method: string, path: string, body?: unknown, token: string | null = MASTER_KEY) {
  const response = await fetch(`${admin.url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keygate-identity-'));
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/internal/invalidate') pushes.push(JSON.parse(body) as ChangeBatch);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  admin = await spawnAdmin({
    KEYGATE_DB_PATH: join(dir, 'keygate.db'),
    KEYGATE_MASTER_KEY: MASTER_KEY,
    KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
    KEYGATE_GATEWAY_URLS: gatewayUrl,
  });
}, 30_000);

afterAll(async () => {
  await admin?.stop();
  await new Promise<void>((resolve) => gateway?.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('admin identity over real HTTP', () => {
  it('mints a JWT, scopes the user by membership, and deleting the user revokes its keys everywhere', async () => {
    const org = await api('POST', '/v1/orgs', { name: 'e2e-org' });
    const otherOrg = await api('POST', '/v1/orgs', { name: 'e2e-other' });
    const team = await api('POST', '/v1/teams', {
      org_id: org.body.id,
      name: 'e2e-team',
      self_service: { max_keys_per_user: 2 },
    });
    expect(team.status).toBe(201);
    const dev = await api('POST', '/v1/users', { email: 'dev@e2e.test', name: 'Dev' });
    expect(dev.status).toBe(201);
    expect(
      (await api('PUT', `/v1/teams/${team.body.id}/members/${dev.body.id}`, { role: 'team_developer' }))
        .status,
    ).toBe(200);

    const minted = await api('POST', `/v1/users/${dev.body.id}/tokens`, { ttl_seconds: 900 });
    expect(minted.status).toBe(200);
    const token = minted.body.token as string;
    const me = await api('GET', '/v1/me', undefined, token);
    expect(me.body.permissions.teams[team.body.id]).toContain('key.create_self');
    expect((await api('GET', `/v1/orgs/${otherOrg.body.id}`, undefined, token)).status).toBe(404);
    expect((await api('GET', '/v1/audit', undefined, token)).status).toBe(403);

    // Membership removal applies to the next request (and revokes the self-service keys the user
    // made in that team, issue 10 item 10); restoring it applies to the next request too.
    const early = await api('POST', '/v1/keys', { name: 'dev-key-early', team_id: team.body.id }, token);
    expect(early.status).toBe(201);
    await api('DELETE', `/v1/teams/${team.body.id}/members/${dev.body.id}`);
    expect((await api('GET', `/v1/teams/${team.body.id}`, undefined, token)).status).toBe(404);
    const earlyAfter = await api('GET', `/v1/keys/${early.body.key.id}`);
    expect(earlyAfter.body.status, JSON.stringify(earlyAfter)).toBe('revoked');
    await api('PUT', `/v1/teams/${team.body.id}/members/${dev.body.id}`, { role: 'team_developer' });
    expect((await api('GET', `/v1/teams/${team.body.id}`, undefined, token)).status).toBe(200);

    const key = await api('POST', '/v1/keys', { name: 'dev-key', team_id: team.body.id }, token);
    expect(key.status).toBe(201);
    const tokenHash = createHash('sha256').update(key.body.secret).digest('hex');

    const pushesBefore = pushes.length;
    expect((await api('DELETE', `/v1/users/${dev.body.id}`)).status).toBe(204);
    expect((await api('GET', '/v1/me', undefined, token)).status).toBe(401);

    const deadline = Date.now() + 2000;
    while (
      !pushes.slice(pushesBefore).some((b) => b.changes.some((c) => c.tokenHashes.includes(tokenHash)))
    ) {
      if (Date.now() > deadline) throw new Error(`no push for the revoked key: ${JSON.stringify(pushes)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const internal = await fetch(`${admin.url}/internal/keys/${tokenHash}?gateway_id=e2e`, {
      headers: { authorization: await new InternalTokens(INTERNAL_SECRET).authorizationHeader() },
    });
    expect(internal.status).toBe(200);
    expect(((await internal.json()) as { status: string }).status).toBe('revoked');
    const view = await api('GET', `/v1/keys/${key.body.key.id}`);
    expect(view.body).toMatchObject({ status: 'revoked', owner: { type: 'user', id: null } });
  }, 30_000);
});
