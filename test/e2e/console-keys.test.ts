/**
 * The API Keys page in Chromium against real processes (admin plane, gateway, mock upstream):
 *  - an admin creates a key for a service account created inside the Create Key dialog, copies
 *    the secret, uses it against the gateway (200), revokes it in the page, and the gateway
 *    refuses it; focus moves into the dialog and back; screenshots for the README;
 *  - a team developer sees only My Keys and meets each self-service constraint at its field;
 *  - block/unblock in the page reach the gateway (401 key_blocked, then 200), for a key and for
 *    a user (every key they own); the dialog's budget period and parallel cap reach the key;
 *  - a viewer (org auditor) sees keys but no write action;
 *  - every page: no console errors or failed requests, every control labelled, no horizontal
 *    page overflow at 390 px.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { MASTER_KEY, msUntil, seed, startStack, type Stack } from '../helpers/e2e-stack.js';
import { ROOT } from '../helpers/processes.js';
import {
  SKIP_BROWSER,
  launch,
  monitor,
  newContext,
  signInWithMasterKey,
  signInWithPassword,
  unlabeled,
} from './console-browser.js';
import { developerChecks, person } from './console-self-service.js';

const SHOTS = `${ROOT}docs/screenshots`;
let stack: Stack;
let browser: Browser;
let data: Awaited<ReturnType<typeof seed>>;

async function chat(secret: string) {
  return fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: data.target.name, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

async function focusedDialog(page: Page): Promise<string | null> {
  return page.evaluate('document.activeElement?.closest("dialog")?.id ?? null') as Promise<string | null>;
}

describe.skipIf(SKIP_BROWSER)('API Keys page in Chromium', () => {
  beforeAll(async () => {
    stack = await startStack({ push: true });
    data = await seed(stack, 'console');
    await data.createKey({ name: 'billing-batch', max_budget: 50, rpm_limit: 120, tpd_limit: 2_000_000 });
    await data.createKey({ name: 'search-indexer', max_budget: 10, rph_limit: 3000 });
    browser = await launch();
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('admin: creates a key for a new service account in the dialog, uses it, revokes it in the page', async () => {
    const context = await newContext(browser, stack.adminUrl);
    const page = await context.newPage();
    const watch = monitor(page);
    await signInWithMasterKey(page, stack.adminUrl, MASTER_KEY);
    const create = page.getByRole('button', { name: '+ Create Key' });
    await create.click();
    expect(await focusedDialog(page)).toBe('create-key-dialog');
    await page.keyboard.press('Escape');
    expect(await page.evaluate('document.activeElement?.textContent?.trim()')).toBe('+ Create Key');

    await create.click();
    const dialog = page.getByRole('dialog', { name: 'Create Key' });
    await dialog.getByLabel('Key name').fill('checkout-service');
    await dialog.getByLabel('Team', { exact: true }).selectOption({ label: data.team.name });
    await dialog.getByLabel('Service account', { exact: true }).check();
    await dialog.getByLabel('Service account of the team').selectOption('__new');
    await dialog.getByLabel('New service account name').fill('checkout-bot');
    await dialog.getByLabel('Max budget (USD)').fill('25');
    await dialog.getByLabel('Budget period').selectOption('month');
    await dialog.getByLabel('RPM').fill('60');
    await dialog.getByLabel('Max parallel requests').fill('4');
    await dialog.getByLabel('Expires in (days)').fill('90');
    expect(await unlabeled(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/create-key-dialog.png` });
    await dialog.getByRole('button', { name: 'Create key' }).click();

    const secretDialog = page.getByRole('dialog', { name: 'Copy your new key' });
    await secretDialog.waitFor({ state: 'visible' });
    expect(await focusedDialog(page)).toBe('secret-dialog');
    const shown = (await page.getByTestId('secret-value').textContent()) ?? '';
    expect(shown).toMatch(/^kg_/);
    await secretDialog.getByRole('button', { name: 'Copy' }).click();
    await secretDialog.getByText('Copied to the clipboard.').waitFor();
    const secret = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(secret).toBe(shown);
    expect(page.url()).not.toContain(secret);
    expect(
      await page.evaluate('JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie'),
    ).not.toContain(secret);
    await secretDialog.getByRole('button', { name: 'Done, I have copied it' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('link', { name: 'checkout-service' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    expect((await context.cookies()).some((c) => c.value.includes(secret))).toBe(false);

    const used = await chat(secret);
    expect(used.status).toBe(200);
    // The usage report is flushed (KEYGATE_USAGE_FLUSH_MS 100 in the stack) and applied by the admin plane.
    const usedId = (await page.getByRole('link', { name: 'checkout-service' }).getAttribute('href'))!.slice(
      6,
    );
    await eventually(async () => (await stack.api('GET', `/v1/keys/${usedId}`)).body.period_spend > 0, {
      timeoutMs: 10_000,
      what: 'the usage applied to the key',
    });
    await page.reload();
    const row = page.locator('tr', { has: page.getByRole('link', { name: 'checkout-service' }) });
    expect(await row.getByText('checkout-bot').count()).toBe(1);
    expect(await row.getByText('No limit').count()).toBe(4);
    expect(await row.getByText(/of \$25\.00 per month/).count()).toBe(1);
    const id = (await row.getByRole('link', { name: 'checkout-service' }).getAttribute('href'))!.slice(6);
    const view = (await stack.api('GET', `/v1/keys/${id}`)).body;
    expect([view.budget_period, view.max_parallel_requests]).toEqual(['month', 4]);
    expect(view.period_spend).toBeGreaterThan(0);
    await page.screenshot({ path: `${SHOTS}/api-keys.png` });

    // Block in the row → the gateway refuses with key_blocked; Unblock → 200 again.
    await row.getByRole('button', { name: 'Block' }).click();
    await page.getByRole('dialog', { name: 'Block key' }).getByRole('button', { name: 'Block' }).click();
    await row.getByText('blocked').waitFor();
    await msUntil(
      Date.now(),
      () => chat(secret),
      (status, body) => status === 401 && body?.error?.code === 'key_blocked',
    );
    await row.getByRole('button', { name: 'Unblock' }).click();
    await page.getByRole('dialog', { name: 'Unblock key' }).getByRole('button', { name: 'Unblock' }).click();
    await row.getByText('active').waitFor();
    await msUntil(
      Date.now(),
      () => chat(secret),
      (status) => status === 200,
    );

    await row.getByRole('link', { name: 'checkout-service' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    expect(await page.getByText('key.create').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('usage-hour').getByRole('row').count()).toBeGreaterThan(1);
    await page.getByLabel('Model', { exact: true }).selectOption(data.target.name);
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.getByTestId('explain').waitFor();
    expect(await page.locator('[data-check="window"][data-verdict="pass"]').count()).toBe(1);
    expect(await page.locator('[data-check="parallel"][data-verdict="pass"]').count()).toBe(1);
    expect(await unlabeled(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/key-detail.png`, fullPage: true });

    await page.getByRole('link', { name: 'API Keys' }).first().click();
    await row.getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke key' });
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked').waitFor();
    const since = Date.now();
    await msUntil(
      since,
      () => chat(secret),
      (status, body) => status === 401 && body?.error?.code === 'key_revoked',
    );
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('admin: regenerate with a grace period keeps the old secret working; delete asks first', async () => {
    const old = await data.createKey({ name: 'rotating' });
    const context = await newContext(browser, stack.adminUrl);
    const page = await context.newPage();
    const watch = monitor(page);
    await signInWithMasterKey(page, stack.adminUrl, MASTER_KEY);
    await page.waitForLoadState('networkidle'); // the keys page's own fetches finish before leaving it
    await page.goto(`${stack.adminUrl}/keys/${old.key.id}`);
    await page.getByRole('button', { name: 'Regenerate' }).click();
    const confirm = page.getByRole('dialog', { name: 'Regenerate key' });
    expect(await focusedDialog(page)).toBe('confirm-dialog');
    await confirm.getByLabel('Old secret keeps working for (minutes)').fill('5');
    await confirm.getByRole('button', { name: 'Regenerate' }).click();
    const secretDialog = page.getByRole('dialog', { name: 'Copy your new key' });
    await secretDialog.waitFor({ state: 'visible' });
    const fresh = (await page.getByTestId('secret-value').textContent()) ?? '';
    expect(fresh).toMatch(/^kg_/);
    expect(fresh).not.toBe(old.secret);
    await secretDialog.getByRole('button', { name: 'Done, I have copied it' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    expect((await chat(fresh)).status).toBe(200);
    // Well after the change reached the gateway (push ≤ 50 ms), the old secret still works: the grace period.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await chat(old.secret)).status).toBe(200);

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete key' }).getByRole('button', { name: 'Cancel' }).click();
    expect(await page.evaluate('document.activeElement?.textContent?.trim()')).toBe('Delete');
    expect((await stack.api('GET', `/v1/keys/${old.key.id}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete key' }).getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(`${stack.adminUrl}/keys`);
    expect(await page.getByRole('link', { name: 'rotating' }).count()).toBe(0);
    await msUntil(
      Date.now(),
      () => chat(fresh),
      (status) => status === 401,
    );
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('admin: "Restrict" in the dialog narrows the key to the chosen target at the gateway', async () => {
    const context = await newContext(browser, stack.adminUrl);
    const page = await context.newPage();
    const watch = monitor(page);
    await signInWithMasterKey(page, stack.adminUrl, MASTER_KEY);
    await page.getByRole('button', { name: '+ Create Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create Key' });
    await dialog.getByLabel('Key name').fill('narrow');
    await dialog.getByLabel('Team', { exact: true }).selectOption({ label: data.team.name });
    await dialog.getByLabel('Service account of the team').selectOption('__new');
    await dialog.getByLabel('New service account name').fill('narrow-bot');
    await dialog.getByLabel('Restrict').check();
    await dialog.getByLabel(data.target.name).check();
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('secret-value').filter({ hasText: /kg_/ }).textContent()) ?? '';
    await page.getByRole('button', { name: 'Done, I have copied it' }).click();
    expect((await chat(secret)).status).toBe(200);
    const other = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: data.other.name, messages: [] }),
    });
    expect(other.status).toBe(403);
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('team developer: only My Keys, and each self-service constraint shown at its field', async () => {
    await developerChecks(browser, stack, data);
  });

  it('admin: blocking a user in the Users page blocks their keys at the gateway; unblock restores them', async () => {
    const id = await person(stack, 'blocked@example.com', 'blocked password 123');
    await stack.api('PUT', `/v1/teams/${data.team.id}/members/${id}`, { role: 'team_admin' });
    const token = (await stack.api('POST', `/v1/users/${id}/tokens`, {})).body.token as string;
    const created = await fetch(`${stack.adminUrl}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'owned-by-person', team_id: data.team.id }),
    });
    expect(created.status).toBe(201);
    const { secret } = (await created.json()) as { secret: string };
    const context = await newContext(browser, stack.adminUrl);
    const page = await context.newPage();
    const watch = monitor(page);
    await signInWithMasterKey(page, stack.adminUrl, MASTER_KEY);
    await page.getByRole('link', { name: 'Users' }).click();
    const row = page.locator('tr', { hasText: 'blocked@example.com' });
    await row.getByRole('button', { name: 'Block' }).click();
    await page.getByRole('dialog', { name: 'Block user' }).getByRole('button', { name: 'Block' }).click();
    await row.getByText('blocked', { exact: true }).waitFor();
    await msUntil(
      Date.now(),
      () => chat(secret),
      (status, body) => status === 401 && body?.error?.code === 'key_blocked',
    );
    await row.getByRole('button', { name: 'Unblock' }).click();
    await page.getByRole('dialog', { name: 'Unblock user' }).getByRole('button', { name: 'Unblock' }).click();
    await row.getByText('active', { exact: true }).waitFor();
    await msUntil(
      Date.now(),
      () => chat(secret),
      (status) => status === 200,
    );
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('viewer (org auditor): sees keys, no write actions', async () => {
    const id = await person(stack, 'viewer@example.com', 'viewer password 123');
    await stack.api('PUT', `/v1/orgs/${data.org.id}/members/${id}`, { role: 'org_auditor' });
    const context = await newContext(browser, stack.adminUrl);
    const page = await context.newPage();
    const watch = monitor(page);
    await signInWithPassword(page, stack.adminUrl, 'viewer@example.com', 'viewer password 123');
    await page.getByRole('link', { name: 'billing-batch' }).waitFor();
    expect(await page.getByRole('link', { name: 'All Keys' }).count()).toBe(1);
    expect(await page.locator('[data-action], [data-open-dialog]').count()).toBe(0);
    await page.getByRole('link', { name: 'billing-batch' }).click();
    await page.getByRole('heading', { name: 'Limits' }).waitFor();
    expect(await page.locator('[data-action]').count()).toBe(0);
    await page.getByRole('link', { name: 'Users' }).click();
    expect(await page.locator('#invite-form').count()).toBe(0);
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('every page: clean console, labelled controls, readable at 1280x720 and 390 px', async () => {
    for (const [width, height] of [
      [1280, 720],
      [390, 844],
    ] as const) {
      const context = await newContext(browser, stack.adminUrl, width, height);
      const page = await context.newPage();
      const watch = monitor(page);
      await signInWithMasterKey(page, stack.adminUrl, MASTER_KEY);
      const keyId = (await stack.api('GET', '/v1/keys')).body.data[0].id;
      for (const path of [
        '/keys',
        `/keys/${keyId}`,
        '/teams',
        `/teams/${data.team.id}`,
        '/targets',
        '/users',
        '/audit',
      ]) {
        await page.goto(`${stack.adminUrl}${path}`, { waitUntil: 'networkidle' });
        expect(await unlabeled(page), `${path} at ${width}px`).toEqual([]);
        const overflow = (await page.evaluate('document.documentElement.scrollWidth')) as number;
        expect(overflow, `${path} at ${width}px`).toBeLessThanOrEqual(width);
      }
      await page.goto(`${stack.adminUrl}/keys`, { waitUntil: 'networkidle' });
      // Keyboard only: Tab reaches "+ Create Key", Enter opens the dialog with focus inside it.
      let tabs = 0;
      while ((await page.evaluate('document.activeElement?.textContent?.trim()')) !== '+ Create Key') {
        expect(++tabs, 'Tab presses to reach + Create Key').toBeLessThan(40);
        await page.keyboard.press('Tab');
      }
      await page.keyboard.press('Enter');
      expect(await focusedDialog(page)).toBe('create-key-dialog');
      await page.waitForLoadState('networkidle');
      expect(await unlabeled(page)).toEqual([]);
      if (width === 390) await page.screenshot({ path: `${SHOTS}/api-keys-390.png` });
      expect(watch.problems).toEqual([]);
      await context.close();
    }
  });
});
