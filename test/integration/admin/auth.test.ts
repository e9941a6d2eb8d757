/**
 * Admin authentication (DESIGN.md "Security"): only the master key or a valid, unexpired HS256
 * JWT of an existing user gets in; everything else is 401 `unauthenticated`.
 */
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestAdmin, type TestAdmin } from '../../helpers/admin-harness.js';

const JWT_SECRET = 'a-test-jwt-secret-that-is-long-enough-0123456789';

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** Hand-made HS256 token (lets a test build shapes jose refuses to sign). */
function handMadeJwt(header: object, payload: object, secret: string | null): string {
  const unsigned = `${base64url(header)}.${base64url(payload)}`;
  const signature = secret === null ? '' : createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

async function signed(payload: Record<string, unknown>, secret = JWT_SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

describe('admin authentication', () => {
  let admin: TestAdmin;
  let userId: string;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    admin = createTestAdmin({ KEYGATE_JWT_SECRET: JWT_SECRET });
    const created = await admin.call('POST', '/v1/users', { body: { email: 'alice@example.test' } });
    expect(created.status).toBe(201);
    userId = created.body.id;
  });

  const expect401 = async (token: string | null, headers?: Record<string, string>) => {
    const response = await admin.call('GET', '/v1/me', { token, headers });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('unauthenticated');
    expect(response.body.error.request_id).toBe(response.headers.get('x-request-id'));
  };

  it('a valid JWT of an existing user authenticates as that user', async () => {
    const token = await signed({ sub: userId, exp: now() + 60 });
    const response = await admin.call('GET', '/v1/me', { token });
    expect(response.status).toBe(200);
    expect(response.body.user.id).toBe(userId);
  });

  it('the master key authenticates as the master caller (no user)', async () => {
    const response = await admin.call('GET', '/v1/me');
    expect(response.status).toBe(200);
    expect(response.body.user).toBeNull();
    expect(response.body.caller).toEqual({ type: 'master_key', id: null });
  });

  it('no Authorization header is refused', () => expect401(null));

  it('a non-Bearer Authorization header is refused', () =>
    expect401(null, { authorization: 'Basic dXNlcjpwYXNz' }));

  it('a wrong master key is refused', () => expect401('test-master-key-0123456780'));

  it('a JWT with alg "none" is refused', () =>
    expect401(handMadeJwt({ alg: 'none', typ: 'JWT' }, { sub: userId, exp: now() + 60 }, null)));

  it('a JWT signed with the wrong secret is refused', async () =>
    expect401(await signed({ sub: userId, exp: now() + 60 }, 'another-secret-that-is-also-long-0123456789')));

  it('an expired JWT is refused', async () => expect401(await signed({ sub: userId, exp: now() - 10 })));

  it('a JWT without exp is refused', async () => expect401(await signed({ sub: userId })));

  it('a JWT without sub is refused', async () => expect401(await signed({ exp: now() + 60 })));

  it('a JWT signed with HS512 (not the configured algorithm) is refused', async () => {
    const token = await new SignJWT({ sub: userId, exp: now() + 60 })
      .setProtectedHeader({ alg: 'HS512' })
      .sign(new TextEncoder().encode(JWT_SECRET));
    await expect401(token);
  });

  it('a tampered payload is refused', async () => {
    const token = await signed({ sub: userId, exp: now() + 60 });
    const [header, , signature] = token.split('.');
    await expect401(`${header}.${base64url({ sub: 'usr_someone_else', exp: now() + 60 })}.${signature}`);
  });

  it('a JWT whose sub is a service account is refused: service accounts never log in', async () => {
    const org = await admin.call('POST', '/v1/orgs', { body: { name: 'sa-org' } });
    const team = await admin.call('POST', '/v1/teams', { body: { org_id: org.body.id, name: 'sa-team' } });
    const sa = await admin.call('POST', `/v1/teams/${team.body.id}/service-accounts`, {
      body: { name: 'ci-bot' },
    });
    expect(sa.status).toBe(201);
    await expect401(await signed({ sub: sa.body.id, exp: now() + 3600 }));
    // Not through minting either: tokens are minted for users only.
    const mint = await admin.call('POST', `/v1/users/${sa.body.id}/tokens`, { body: {} });
    expect(mint.status).toBe(404);
  });

  it('a token of a deleted user is refused on the next request', async () => {
    const bob = await admin.call('POST', '/v1/users', { body: { email: 'bob@example.test' } });
    const minted = await admin.call('POST', `/v1/users/${bob.body.id}/tokens`, {
      body: { ttl_seconds: 600 },
    });
    expect(minted.status).toBe(200);
    expect((await admin.call('GET', '/v1/me', { token: minted.body.token })).status).toBe(200);
    expect((await admin.call('DELETE', `/v1/users/${bob.body.id}`)).status).toBe(204);
    await expect401(minted.body.token);
  });

  it('a minted token carries exp = now + ttl and stops working after it', async () => {
    const minted = await admin.call('POST', `/v1/users/${userId}/tokens`, { body: { ttl_seconds: 60 } });
    expect(minted.status).toBe(200);
    const expiresAt = Date.parse(minted.body.expires_at);
    expect(Math.abs(expiresAt - (admin.clock.now() + 60_000))).toBeLessThan(1000);
    const payload = JSON.parse(Buffer.from(minted.body.token.split('.')[1], 'base64url').toString());
    expect(payload).toMatchObject({ sub: userId });
    expect(payload.exp * 1000).toBe(expiresAt);
    // A token minted "in the past" (clock moved back 2 minutes) is already expired.
    admin.clock.advance(-120_000);
    const stale = await admin.call('POST', `/v1/users/${userId}/tokens`, { body: { ttl_seconds: 60 } });
    admin.clock.advance(120_000);
    await expect401(stale.body.token);
  });

  it('tokens are checked on the admin clock that minted them, not the wall clock', async () => {
    // CI failed on this: a suite pinned its clock 70 minutes before the wall time; a one-hour token
    // minted on that clock was judged expired against Date.now().
    const wall = admin.clock.now();
    admin.clock.set(wall - 3 * 3_600_000);
    try {
      const minted = await admin.call('POST', `/v1/users/${userId}/tokens`, { body: { ttl_seconds: 3600 } });
      expect((await admin.call('GET', '/v1/me', { token: minted.body.token })).status).toBe(200);
      admin.clock.advance(3_601_000);
      await expect401(minted.body.token);
    } finally {
      admin.clock.set(wall);
    }
  });

  it('internal routes do not accept admin credentials', async () => {
    const response = await admin.call('GET', '/internal/changes?after=0');
    expect(response.status).toBe(401);
  });
});
