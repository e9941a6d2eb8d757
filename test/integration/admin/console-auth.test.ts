/**
 * Sign-in for people (issue 16), through the real admin app (Hono routing, SQLite, scrypt):
 * set-password links are one-time and expire; sessions are HttpOnly SameSite=Strict cookies with
 * server-side expiry; the JSON API accepts them but refuses state changes without the CSRF
 * header; sign-out ends the session; failed sign-ins are throttled per account.
 */
import { describe, expect, it } from 'vitest';
import { createAdminApp } from '../../../admin/app.js';
import { Credentials } from '../../../admin/auth/credentials.js';
import { createTestAdmin, TEST_MASTER_KEY, type TestAdmin } from '../../helpers/admin-harness.js';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function cookieOf(response: Response, name: string): string | undefined {
  const header = response.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
  return header === undefined ? undefined : header.slice(name.length + 1).split(';')[0];
}

/** GET a form page; returns its CSRF field and the pre-sign-in cookie. */
async function formOf(admin: TestAdmin, path: string) {
  const page = await admin.app.request(path);
  const html = await page.text();
  return { csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '', pre: cookieOf(page, 'kg_pre') ?? '' };
}

async function post(
  admin: TestAdmin,
  path: string,
  fields: Record<string, string>,
  cookie: string,
  headers = {},
) {
  return admin.app.request(path, {
    method: 'POST',
    headers: { ...FORM, cookie, ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function signIn(admin: TestAdmin, fields: Record<string, string>, headers = {}) {
  const form = await formOf(admin, '/sign-in');
  return post(admin, '/sign-in', { csrf: form.csrf, ...fields }, `kg_pre=${form.pre}`, headers);
}

async function userWithPassword(admin: TestAdmin, email: string) {
  const user = (await admin.call('POST', '/v1/users', { body: { email } })).body;
  const link = await admin.call('POST', `/v1/users/${user.id}/password-link`);
  expect(link.status).toBe(201);
  const form = await formOf(admin, link.body.path);
  const set = await post(
    admin,
    link.body.path,
    { csrf: form.csrf, password: PASSWORD, confirm: PASSWORD },
    `kg_pre=${form.pre}`,
  );
  expect(set.status).toBe(303);
  return { user, path: link.body.path as string };
}

function session(response: Response) {
  const token = cookieOf(response, 'kg_session');
  if (token === undefined) throw new Error(`no session cookie (status ${response.status})`);
  return `kg_session=${token}`;
}

async function csrfOf(admin: TestAdmin, cookie: string): Promise<string> {
  const page = await admin.app.request('/keys', { headers: { cookie } });
  return /name="csrf-token" content="([^"]+)"/.exec(await page.text())?.[1] ?? '';
}

describe('console sign-in', () => {
  it('a set-password link works once, then signs the user in with an HttpOnly SameSite=Strict cookie', async () => {
    const admin = createTestAdmin();
    const { path } = await userWithPassword(admin, 'new@example.com');
    expect((await admin.app.request(path)).status).toBe(404);
    const signedIn = await signIn(admin, {
      method: 'password',
      email: 'new@example.com',
      password: PASSWORD,
    });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/keys');
    const line = signedIn.headers.getSetCookie().find((l) => l.startsWith('kg_session='))!;
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).not.toMatch(/Secure/);
    const me = await admin.call('GET', '/v1/me', { token: null, headers: { cookie: session(signedIn) } });
    expect(me.body.user.email).toBe('new@example.com');
  });

  it('marks the cookie Secure when the request came over HTTPS', async () => {
    const admin = createTestAdmin();
    const signedIn = await signIn(
      admin,
      { method: 'master', master_key: TEST_MASTER_KEY },
      { 'x-forwarded-proto': 'https' },
    );
    expect(signedIn.headers.getSetCookie().find((l) => l.startsWith('kg_session='))).toMatch(/Secure/);
  });

  it('a link expires after KEYGATE_PASSWORD_LINK_TTL_MS and only platform admins make links', async () => {
    const admin = createTestAdmin();
    const user = (await admin.call('POST', '/v1/users', { body: { email: 'late@example.com' } })).body;
    const link = await admin.call('POST', `/v1/users/${user.id}/password-link`);
    admin.clock.advance(admin.deps.config.passwordLinkTtlMs + 1);
    expect((await admin.app.request(link.body.path)).status).toBe(404);
    const jwt = (await admin.call('POST', `/v1/users/${user.id}/tokens`)).body.token;
    expect((await admin.call('POST', `/v1/users/${user.id}/password-link`, { token: jwt })).status).toBe(403);
  });

  it('refuses a wrong password and an unknown email with the same answer; the password is never stored or audited in clear', async () => {
    const admin = createTestAdmin();
    await userWithPassword(admin, 'dev@example.com');
    const wrong = await signIn(admin, {
      method: 'password',
      email: 'dev@example.com',
      password: 'nope nope nope',
    });
    const unknown = await signIn(admin, {
      method: 'password',
      email: 'ghost@example.com',
      password: 'nope nope nope',
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(cookieOf(wrong, 'kg_session')).toBeUndefined();
    const dump =
      JSON.stringify(admin.deps.db.prepare('SELECT * FROM users').all()) +
      JSON.stringify(admin.deps.db.prepare('SELECT * FROM audit_log').all());
    expect(dump).not.toContain(PASSWORD);
    expect(dump).toContain('scrypt$');
  });

  it('throttles failed sign-ins per account: the 6th attempt is refused even with the right password', async () => {
    const admin = createTestAdmin();
    await userWithPassword(admin, 'target@example.com');
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await signIn(admin, {
            method: 'password',
            email: 'target@example.com',
            password: `wrong-${i}-xxxxxx`,
          })
        ).status,
      ).toBe(401);
    }
    const blocked = await signIn(admin, {
      method: 'password',
      email: 'target@example.com',
      password: PASSWORD,
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(cookieOf(blocked, 'kg_session')).toBeUndefined();
  });

  it('throttles failed sign-ins per address: 20 failures over many accounts block the next attempt', async () => {
    const admin = createTestAdmin();
    await userWithPassword(admin, 'someone@example.com');
    for (let i = 0; i < 20; i++) {
      const response = await signIn(admin, {
        method: 'password',
        email: `guess-${i}@example.com`,
        password: 'x'.repeat(12),
      });
      expect(response.status).toBe(401);
    }
    const blocked = await signIn(admin, {
      method: 'password',
      email: 'someone@example.com',
      password: PASSWORD,
    });
    expect(blocked.status).toBe(429);
  });

  it('refuses a sign-in form without the matching CSRF value', async () => {
    const admin = createTestAdmin();
    const response = await post(
      admin,
      '/sign-in',
      { csrf: 'forged', method: 'master', master_key: TEST_MASTER_KEY },
      'kg_pre=other',
    );
    expect(response.status).toBe(403);
    expect(cookieOf(response, 'kg_session')).toBeUndefined();
  });
});

describe('session cookie on the JSON API', () => {
  it('reads with the cookie, refuses writes without x-csrf-token, accepts them with it', async () => {
    const admin = createTestAdmin();
    const cookie = session(await signIn(admin, { method: 'master', master_key: TEST_MASTER_KEY }));
    const me = await admin.call('GET', '/v1/me', { token: null, headers: { cookie } });
    expect(me.body.caller.type).toBe('master_key');
    const forged = await admin.call('POST', '/v1/orgs', {
      token: null,
      headers: { cookie },
      body: { name: 'x' },
    });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('csrf_token_invalid');
    const wrong = await admin.call('POST', '/v1/orgs', {
      token: null,
      headers: { cookie, 'x-csrf-token': 'guess' },
      body: { name: 'x' },
    });
    expect(wrong.status).toBe(403);
    const csrf = await csrfOf(admin, cookie);
    const created = await admin.call('POST', '/v1/orgs', {
      token: null,
      headers: { cookie, 'x-csrf-token': csrf },
      body: { name: 'x' },
    });
    expect(created.status).toBe(201);
    expect((await admin.call('GET', '/v1/orgs')).status).toBe(200);
  });

  it('expires server-side after KEYGATE_SESSION_TTL_MS', async () => {
    const admin = createTestAdmin();
    const cookie = session(await signIn(admin, { method: 'master', master_key: TEST_MASTER_KEY }));
    admin.clock.advance(admin.deps.config.sessionTtlMs + 1);
    expect((await admin.call('GET', '/v1/me', { token: null, headers: { cookie } })).status).toBe(401);
    const page = await admin.app.request('/keys', { headers: { cookie } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/sign-in');
  });

  it('a master-key session ends when the master key changes', async () => {
    const admin = createTestAdmin();
    const cookie = session(await signIn(admin, { method: 'master', master_key: TEST_MASTER_KEY }));
    const config = { ...admin.deps.config, masterKey: 'a-rotated-master-key-0123456789' };
    const rotated = createAdminApp({
      ...admin.deps,
      config,
      credentials: new Credentials(admin.deps.db, config),
    });
    expect((await rotated.request('/v1/me', { headers: { cookie } })).status).toBe(401);
    expect((await admin.app.request('/v1/me', { headers: { cookie } })).status).toBe(200);
  });

  it('sign-out needs the CSRF field, then ends the session server-side', async () => {
    const admin = createTestAdmin();
    const cookie = session(await signIn(admin, { method: 'master', master_key: TEST_MASTER_KEY }));
    expect((await post(admin, '/sign-out', {}, cookie)).status).toBe(403);
    expect((await admin.call('GET', '/v1/me', { token: null, headers: { cookie } })).status).toBe(200);
    const out = await post(admin, '/sign-out', { csrf: await csrfOf(admin, cookie) }, cookie);
    expect(out.status).toBe(303);
    expect((await admin.call('GET', '/v1/me', { token: null, headers: { cookie } })).status).toBe(401);
  });
});

describe('console pages', () => {
  it('answer with a strict CSP, send strangers to sign-in, and show the master key as platform admin', async () => {
    const admin = createTestAdmin();
    expect((await admin.app.request('/')).headers.get('location')).toBe('/sign-in');
    expect((await admin.app.request('/keys')).headers.get('location')).toBe('/sign-in');
    const cookie = session(await signIn(admin, { method: 'master', master_key: TEST_MASTER_KEY }));
    const page = await admin.app.request('/keys', { headers: { cookie } });
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).toContain('platform admin (master key)');
    expect(html).not.toMatch(/<script>|<style|\sstyle="|\son[a-z]+="/);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  });
});
