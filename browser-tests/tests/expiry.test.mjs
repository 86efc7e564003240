// An unpaid order expires: the order page turns to "Order Expired" and the ticket is back for
// sale. Needs the stack's short expiration window (scripts/test.sh and scripts/browser-tests.sh
// start it with EXPIRATION_WINDOW_SECONDS=6).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BASE,
  eventually,
  purchase,
  secondsLeft,
  sellTicket,
  sharedBrowser,
  signOut,
  signUp,
  ticketRows,
  uniqueEmail,
  uniqueTitle,
} from './support.mjs';

const browser = sharedBrowser('expiry');

const title = uniqueTitle('Play');

test('an unpaid order turns to Order Expired and the ticket is for sale again', async () => {
  const { page } = browser;
  await signUp(browser, uniqueEmail('seller'));
  await sellTicket(browser, title, '7.5');
  await signOut(browser);
  await signUp(browser, uniqueEmail('buyer'));
  const orderUrl = await purchase(browser, title);

  const start = await secondsLeft(page);
  assert.ok(start !== null && start <= 30, `the stack runs a short expiration window (${start} s left)`);
  await page.getByText('Order Expired').waitFor({ timeout: (start + 5) * 1000 });
  assert.equal(await page.getByRole('button', { name: 'Pay' }).count(), 0);
  await browser.shot('order-expired');

  await eventually('the ticket to be for sale again', 20_000, async () => {
    await page.goto(`${BASE}/`);
    return (await ticketRows(page)).some(([t, p]) => t === title && p === '7.50');
  });
  await browser.shot('landing-ticket-back');

  await page.goto(orderUrl);
  await page.getByText('Order Expired').waitFor();
  await browser.shot('order-expired-reloaded');
});
