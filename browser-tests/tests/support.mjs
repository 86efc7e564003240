// What every browser test shares: Debian's Chromium driven by playwright-core, the stack's URL,
// screenshots of every page a flow visits, and waiting with deadlines (never sleep-and-hope).
//
// The machine cannot download Playwright's own browser builds, so the tests drive the system's
// `chromium` (CHROMIUM overrides the path) with a fresh profile per flow.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = (process.env.STACK_URL || '').replace(/\/+$/, '');
if (!BASE) {
  throw new Error('STACK_URL is not set: run scripts/browser-tests.sh, which starts the local stack');
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOTS = process.env.SCREENSHOTS_DIR || path.join(ROOT, 'screenshots');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/// A browser with a fresh profile, and a flow name its screenshots are filed under.
export async function launch(flow, options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketing-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1200, height: 800 },
    ...options,
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = context.pages()[0] || (await context.newPage());
  const dir = path.join(SCREENSHOTS, flow);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let shots = 0;
  return {
    page,
    /// Saves a screenshot of the page as it is now: screenshots/<flow>/<nn>-<name>.png.
    async shot(name) {
      shots += 1;
      const file = path.join(dir, `${String(shots).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// One browser for every test of a file: launched before the first, closed after the last.
/// The object is filled in by `before`, so test files can hold it from the start.
export function sharedBrowser(flow, options = {}) {
  const browser = {};
  before(async () => {
    Object.assign(browser, await launch(flow, options));
  });
  after(async () => {
    await browser.close?.();
  });
  return browser;
}

/// A unique email per run, so flows never collide with earlier runs on the same stack.
export function uniqueEmail(who) {
  return `${who}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@test.com`;
}

export function uniqueTitle(what) {
  return `${what} ${Math.random().toString(36).slice(2, 8)}`;
}

/// Polls `check` until it returns a truthy value, failing with `what` after `ms`.
export async function eventually(what, ms, check, every = 250) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/// The header's links, in order.
export async function navLinks(page) {
  return page.locator('header .nav-link').allTextContents();
}

export const SIGNED_OUT_NAV = ['Sign Up', 'Sign In'];
export const SIGNED_IN_NAV = ['Sell Ticket', 'My Orders', 'Sign Out'];

/// The messages of the error list (`Ooops....` alert) on the page.
export async function errorMessages(page) {
  const alert = page.locator('.alert-danger');
  await alert.waitFor();
  const heading = await alert.locator('h4').textContent();
  if (heading !== 'Ooops....') throw new Error(`unexpected alert heading ${heading}`);
  return alert.locator('li').allTextContents();
}

/// Fills and submits the sign-up (or sign-in) form and waits for the landing page.
export async function signUp(browser, email, password = 'password', form = 'signup') {
  const { page } = browser;
  await page.goto(`${BASE}/auth/${form}`);
  await page.getByLabel('Email Address').fill(email);
  await page.getByLabel('Password').fill(password);
  await browser.shot(`${form}-filled`);
  await Promise.all([
    page.waitForURL(`${BASE}/`),
    page.getByRole('button', { name: form === 'signup' ? 'Sign Up' : 'Sign In' }).click(),
  ]);
  await browser.shot('landing-signed-in');
}

/// Signs out through the header's Sign Out button (a form post) and waits for the landing page.
export async function signOut(browser) {
  const { page } = browser;
  await Promise.all([page.waitForURL(`${BASE}/`), page.getByRole('button', { name: 'Sign Out' }).click()]);
  await browser.shot('landing-signed-out');
}

/// Sells a ticket through the form; the price is typed as `price` and formatted on blur.
export async function sellTicket(browser, title, price) {
  const { page } = browser;
  await page.getByRole('link', { name: 'Sell Ticket' }).click();
  await page.waitForURL(`${BASE}/tickets/new`);
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Price').fill(price);
  await page.getByLabel('Title').focus();
  await browser.shot('sell-filled');
  const formatted = await page.getByLabel('Price').inputValue();
  await Promise.all([page.waitForURL(`${BASE}/`), page.getByRole('button', { name: 'Submit' }).click()]);
  await browser.shot('landing-with-ticket');
  return formatted;
}

/// The landing page's ticket rows as [title, price].
export async function ticketRows(page) {
  return page.locator('table tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].slice(0, 2).map((cell) => cell.textContent)),
  );
}

/// Opens the ticket `title` from the landing page and purchases it; returns the order page URL.
export async function purchase(browser, title) {
  const { page } = browser;
  await page.goto(`${BASE}/`);
  await page.locator('table tbody tr', { hasText: title }).getByRole('link', { name: /View/ }).click();
  await page.waitForURL(/\/tickets\/[0-9a-f]{24}$/);
  await page.getByRole('heading', { name: title }).waitFor();
  await browser.shot('ticket');
  await Promise.all([
    page.waitForURL(/\/orders\/[0-9a-f]{24}$/),
    page.getByRole('button', { name: 'Purchase' }).click(),
  ]);
  await browser.shot('order');
  return page.url();
}

/// The seconds the order page's countdown shows, or null once it reads "Order Expired".
export async function secondsLeft(page) {
  const text = (await page.locator('#countdown').textContent()).trim();
  if (text === 'Order Expired') return null;
  const match = /^(-?\d+) seconds until order expires$/.exec(text);
  if (!match) throw new Error(`unexpected countdown text ${JSON.stringify(text)}`);
  return Number(match[1]);
}
