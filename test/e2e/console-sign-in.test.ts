/**
 * The console in a real browser against a real admin process (issue 16, "Done means"):
 *  - an admin invites a user in the Users page; the user opens the one-time set-password link,
 *    sets a password, signs in, and signs out (after which the pages send them to sign-in);
 *  - CSRF: a cross-site form post (from a page on another origin, carrying the session cookie)
 *    is refused, for the JSON API and for sign-out;
 *  - no console errors or failed requests, and every control labelled, on the pages visited.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAdmin, type Spawned } from '../helpers/processes.js';
import {
  SKIP_BROWSER,
  launch,
  monitor,
  newContext,
  signInWithMasterKey,
  signInWithPassword,
  unlabeled,
} from './console-browser.js';

const MASTER_KEY = 'e2e-console-master-key-0123456789';
let dir: string;
let admin: Spawned;
let browser: Browser;

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

describe.skipIf(SKIP_BROWSER)('console sign-in in Chromium', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-console-'));
    admin = await spawnAdmin({
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_MASTER_KEY: MASTER_KEY,
      KEYGATE_GATEWAY_URLS: '',
    });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a new user gets a set-password link, signs in, and signs out', async () => {
    const adminContext = await newContext(browser, admin.url);
    const page = await adminContext.newPage();
    const watch = monitor(page);
    await signInWithMasterKey(page, admin.url, MASTER_KEY);
    expect((await page.getByTestId('identity').textContent())?.trim()).toBe('platform admin (master key)');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('Email').fill('newcomer@example.com');
    await page.getByLabel('Name (optional)').fill('Newcomer');
    expect(await unlabeled(page)).toEqual([]);
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByTestId('password-link').waitFor({ state: 'visible' });
    const link = (await page.getByTestId('password-link').textContent()) ?? '';
    expect(link).toMatch(new RegExp(`^${admin.url}/set-password/[\\w-]{43}$`));
    expect(watch.problems).toEqual([]);

    const userContext = await newContext(browser, admin.url);
    const user = await userContext.newPage();
    const userWatch = monitor(user);
    await user.goto(link);
    expect(await unlabeled(user)).toEqual([]);
    await user.getByLabel('New password').fill('a long new password');
    await user.getByLabel('Repeat the password').fill('a long new password');
    await user.getByRole('button', { name: 'Set password' }).click();
    await user.waitForURL(`${admin.url}/sign-in?password=set`);
    expect((await user.getByRole('status').textContent())?.trim()).toBe('Password set. Sign in.');
    expect(await unlabeled(user)).toEqual([]);
    await signInWithPassword(user, admin.url, 'newcomer@example.com', 'a long new password');
    expect((await user.getByTestId('identity').textContent())?.trim()).toBe('Newcomer');
    const cookies = await userContext.cookies();
    const cookie = cookies.find((c) => c.name === 'kg_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Strict');
    await user.getByRole('button', { name: 'Sign out' }).click();
    await user.waitForURL(`${admin.url}/sign-in`);
    await user.goto(`${admin.url}/keys`);
    expect(user.url()).toBe(`${admin.url}/sign-in`);
    // The link was used: it does not work a second time.
    userWatch.expect(/404.*set-password|status of 404/);
    const again = await user.goto(link);
    expect(again?.status()).toBe(404);
    expect(userWatch.problems).toEqual([]);
    await adminContext.close();
    await userContext.close();
  });

  it('refuses a cross-site form post that carries the session cookie (CSRF)', async () => {
    const org = (await api('POST', '/v1/orgs', { name: 'csrf-org' })).body;
    const team = (await api('POST', '/v1/teams', { org_id: org.id, name: 'csrf-team' })).body;
    const key = (
      await api('POST', '/v1/keys', {
        name: 'victim',
        team_id: team.id,
        owner: { type: 'service_account', create: { name: 'svc' } },
      })
    ).body.key;
    // The attacker's page: another origin (another port) that posts a form to the admin plane.
    let target = '';
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${target}" enctype="text/plain">
        <input name='{"x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    const context = await newContext(browser, admin.url);
    const page = await context.newPage();
    await signInWithMasterKey(page, admin.url, MASTER_KEY);

    target = `${admin.url}/v1/keys/${key.id}/revoke`;
    const [revoke] = await Promise.all([page.waitForResponse(target), page.goto(attackerUrl)]);
    expect(revoke.status()).toBe(403);
    expect(await revoke.text()).toContain('csrf_token_invalid');
    expect((await api('GET', `/v1/keys/${key.id}`)).body.status).toBe('active');

    target = `${admin.url}/sign-out`;
    const [signOut] = await Promise.all([page.waitForResponse(target), page.goto(attackerUrl)]);
    expect(signOut.status()).toBe(403);
    await page.goto(`${admin.url}/keys`);
    expect(page.url()).toBe(`${admin.url}/keys`);
    await context.close();
    attacker.close();
  });
});
