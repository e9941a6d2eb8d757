/**
 * The team developer's walk through the API Keys page (used by console-keys.test.ts): only the
 * My Keys tab, the simplified Create Key form with the team's policy, and every self-service
 * constraint refused by the API and shown at the field its `param` names.
 */
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Stack, seed } from '../helpers/e2e-stack.js';
import { monitor, newContext, setPasswordByLink, signInWithPassword, unlabeled } from './console-browser.js';

/** A user whose password was set through the one-time link; returns the user id. */
export async function person(stack: Stack, email: string, password: string): Promise<string> {
  const user = (await stack.api('POST', '/v1/users', { email })).body;
  const link = (await stack.api('POST', `/v1/users/${user.id}/password-link`)).body;
  await setPasswordByLink(link.url, password);
  return user.id;
}

async function errorAt(page: Page, field: string): Promise<string> {
  const slot = page.locator(`[data-error-for="${field}"]`);
  await slot.filter({ hasText: /\S/ }).waitFor();
  return (await slot.textContent()) ?? '';
}

export async function developerChecks(
  browser: Browser,
  stack: Stack,
  data: Awaited<ReturnType<typeof seed>>,
) {
  const policyTeam = (
    await stack.api('POST', '/v1/teams', {
      org_id: data.org.id,
      name: 'dev-team',
      rpm_limit: 100,
      self_service: {
        enabled: true,
        max_keys_per_user: 1,
        budget_ceiling: 10,
        require_expiry: true,
        max_expiry_days: 30,
      },
    })
  ).body;
  const lockedTeam = (
    await stack.api('POST', '/v1/teams', {
      org_id: data.org.id,
      name: 'locked-team',
      self_service: { enabled: false },
    })
  ).body;
  const id = await person(stack, 'dev@example.com', 'developer password 1');
  for (const team of [policyTeam, lockedTeam]) {
    expect(
      (await stack.api('PUT', `/v1/teams/${team.id}/members/${id}`, { role: 'team_developer' })).status,
    ).toBe(200);
  }
  const context = await newContext(browser, stack.adminUrl);
  const page = await context.newPage();
  const watch = monitor(page);
  watch.expect(/http 40[03]: POST .*\/v1\/keys$/);
  watch.expect(/status of 40[03]/);
  await signInWithPassword(page, stack.adminUrl, 'dev@example.com', 'developer password 1');
  expect(await page.getByRole('link', { name: 'All Keys' }).count()).toBe(0);
  expect(await page.getByRole('link', { name: 'My Keys' }).count()).toBe(1);
  expect(await page.getByRole('link', { name: 'billing-batch' }).count()).toBe(0);

  await page.getByRole('button', { name: '+ Create Key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create Key' });
  await dialog.getByLabel('Team', { exact: true }).selectOption({ label: 'dev-team' });
  expect(await dialog.getByText('Team policy (dev-team)').isVisible()).toBe(true);
  expect(
    await dialog.getByText('A lifetime budget is required, at most $10 (no budget period).').isVisible(),
  ).toBe(true);
  // Under the ceiling the API refuses budget_period (budget_period_not_allowed): no such control.
  expect(await dialog.getByLabel('Budget period').isVisible()).toBe(false);
  expect(await dialog.getByText('Budget periods follow the UTC calendar').isVisible()).toBe(false);
  expect(await dialog.getByRole('group', { name: 'Owned by' }).isVisible()).toBe(false);
  expect(await dialog.getByRole('group', { name: 'Asset access' }).isVisible()).toBe(false);
  expect(await unlabeled(page)).toEqual([]);
  await dialog.getByLabel('Key name').fill('my-notebook');
  const submit = () => dialog.getByRole('button', { name: 'Create key' }).click();

  await submit();
  expect(await errorAt(page, 'max_budget')).toContain('at most 10 USD');
  expect(await dialog.getByLabel('Max budget (USD)').getAttribute('aria-invalid')).toBe('true');
  await dialog.getByLabel('Max budget (USD)').fill('20');
  await submit();
  expect(await errorAt(page, 'max_budget')).toContain('at most 10 USD');
  await dialog.getByLabel('Max budget (USD)').fill('5');
  await submit();
  expect(await errorAt(page, 'expiry')).toContain('expiry');
  await dialog.getByLabel('Expires in (days)').fill('60');
  await submit();
  expect(await errorAt(page, 'expiry')).toContain('within 30 days');
  await dialog.getByLabel('Expires in (days)').fill('10');
  await dialog.getByLabel('RPM').fill('1000');
  await submit();
  expect(await errorAt(page, 'rpm_limit')).toContain('at most 100');
  await dialog.getByLabel('RPM').fill('50');
  await submit();
  const secretDialog = page.getByRole('dialog', { name: 'Copy your new key' });
  await secretDialog.waitFor({ state: 'visible' });
  await secretDialog.getByRole('button', { name: 'Done, I have copied it' }).click();
  await page.getByRole('link', { name: 'my-notebook' }).waitFor();

  await page.getByRole('button', { name: '+ Create Key' }).click();
  await dialog.getByLabel('Key name').fill('second');
  await dialog.getByLabel('Team', { exact: true }).selectOption({ label: 'dev-team' });
  await dialog.getByLabel('Max budget (USD)').fill('5');
  await dialog.getByLabel('Expires in (days)').fill('10');
  await submit();
  expect(await errorAt(page, 'team_id')).toContain('active keys in this team');
  await dialog.getByLabel('Team', { exact: true }).selectOption({ label: 'locked-team' });
  expect(
    await dialog.getByText('Self-service key creation is disabled for this team.').first().isVisible(),
  ).toBe(true);
  // No ceiling on this team: a budget period is allowed, so the control is back.
  expect(await dialog.getByLabel('Budget period').isVisible()).toBe(true);
  await submit();
  expect(await errorAt(page, 'team_id')).toContain('disabled');
  expect(watch.problems).toEqual([]);
  await context.close();
}
