/**
 * Browser helpers of the console's end-to-end tests: Debian's Chromium driven by playwright-core
 * (a fresh profile per launch), a page monitor (console errors, page errors, failed requests and
 * HTTP errors), sign-in steps, and a small label check of our own (every visible form control
 * and button has an accessible name).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];
export const CHROMIUM = CANDIDATES.find((path) => existsSync(path));
/** CI sets KEYGATE_REQUIRE_CHROMIUM=1: there a missing browser fails the suites instead of skipping them. */
export const SKIP_BROWSER = CHROMIUM === undefined && process.env.KEYGATE_REQUIRE_CHROMIUM !== '1';
if (CHROMIUM === undefined) {
  process.stderr.write(
    `\n[console e2e] ${SKIP_BROWSER ? 'SKIPPED' : 'FAILING'}: no Chromium found at ${CANDIDATES.join(', ')}\n\n`,
  );
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM ?? CANDIDATES[0]!,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function newContext(
  browser: Browser,
  origin: string,
  width = 1280,
  height = 720,
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  return context;
}

/** Everything that went wrong on a page: console errors, uncaught errors, failed or >= 400 requests. */
export function monitor(page: Page): { problems: string[]; expect: (pattern: RegExp) => void } {
  const problems: string[] = [];
  const expected: RegExp[] = [];
  const note = (text: string) => {
    if (!expected.some((pattern) => pattern.test(text))) problems.push(text);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') note(`console: ${message.text()} @ ${message.location().url}`);
  });
  page.on('pageerror', (error) => note(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A GET the browser abandons because the page moved on (the icon on a form post, a list fetch
    // still in flight when a slow machine's test navigates) is not a failure of the console; an
    // aborted write, or a GET that failed any other way, is.
    if (request.method() === 'GET' && request.failure()?.errorText === 'net::ERR_ABORTED') return;
    note(`requestfailed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400)
      note(`http ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  return { problems, expect: (pattern) => expected.push(pattern) };
}

export async function signInWithPassword(
  page: Page,
  base: string,
  email: string,
  password: string,
): Promise<void> {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${base}/keys`);
}

export async function signInWithMasterKey(page: Page, base: string, masterKey: string): Promise<void> {
  await page.goto(`${base}/sign-in`);
  await page.getByText('Platform admin (master key)').click();
  await page.getByLabel('Master key').fill(masterKey);
  await page.getByRole('button', { name: 'Sign in with the master key' }).click();
  await page.waitForURL(`${base}/keys`);
}

/**
 * The label check (runs in the page; plain JS because the test project has no DOM types): visible
 * inputs, selects, buttons, links, regions and open dialogs without an accessible name
 * (label[for] or wrapping label, aria-label, aria-labelledby, or the text of a button/link).
 */
const LABEL_CHECK = `(() => {
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim() !== '') return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(' ').some((id) => ((document.getElementById(id) || {}).textContent || '').trim() !== '')) return true;
    if (el instanceof HTMLButtonElement || el instanceof HTMLAnchorElement) return (el.textContent || '').trim() !== '';
    return el.labels != null && [...el.labels].some((label) => (label.textContent || '').trim() !== '');
  };
  const missing = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], [role=region], dialog[open]')) {
    if (visible(el) && !named(el)) missing.push(el.outerHTML.slice(0, 120));
  }
  return missing;
})()`;

export async function unlabeled(page: Page): Promise<string[]> {
  return page.evaluate(LABEL_CHECK);
}

/** Sets a user's password through the one-time link, as the browser form would (HTTP only). */
export async function setPasswordByLink(url: string, password: string): Promise<void> {
  const page = await fetch(url);
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const pre =
    page.headers
      .getSetCookie()
      .find((line) => line.startsWith('kg_pre='))
      ?.split(';')[0] ?? '';
  const done = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre },
    body: new URLSearchParams({ csrf, password, confirm: password }).toString(),
  });
  if (done.status !== 303) throw new Error(`set password: ${done.status} ${await done.text()}`);
}
