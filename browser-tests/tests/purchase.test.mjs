// The marketplace end to end: a seller lists a ticket and signs out; a buyer signs up, opens the
// ticket, purchases it, watches the countdown tick, pays, and finds the order complete.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BASE,
  errorMessages,
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

const browser = sharedBrowser('purchase');

const title = uniqueTitle('Concert');
let orderUrl;

test('a bad ticket shows the API errors', async () => {
  const { page } = browser;
  await signUp(browser, uniqueEmail('seller'));
  await page.getByRole('link', { name: 'Sell Ticket' }).click();
  await page.waitForURL(`${BASE}/tickets/new`);
  await page.getByLabel('Price').fill('-3');
  await page.getByRole('button', { name: 'Submit' }).click();
  assert.deepEqual(await errorMessages(page), ['Title is required', 'Price must be greater than 0']);
  await browser.shot('sell-errors');
});

test('a seller lists a ticket; the price is formatted on blur', async () => {
  const formatted = await sellTicket(browser, title, '20');
  assert.equal(formatted, '20.00');
  const rows = await ticketRows(browser.page);
  assert.ok(
    rows.some(([t, p]) => t === title && p === '20.00'),
    `the new ticket is listed: ${JSON.stringify(rows)}`,
  );
  await signOut(browser);
});

test('a second user purchases it and sees the countdown tick', async () => {
  const { page } = browser;
  await signUp(browser, uniqueEmail('buyer'));
  orderUrl = await purchase(browser, title);
  const first = await secondsLeft(page);
  assert.ok(first > 0, `time is left: ${first}`);
  const later = await eventually('the countdown to tick', 5_000, async () => {
    const now = await secondsLeft(page);
    return now !== null && now < first ? now : false;
  });
  assert.ok(later < first);
  await browser.shot('order-ticking');
});

test('paying completes the order and My Orders shows it', async () => {
  const { page } = browser;
  assert.equal(page.url(), orderUrl);
  await Promise.all([page.waitForURL(`${BASE}/orders`), page.getByRole('button', { name: 'Pay' }).click()]);
  await page.getByRole('heading', { name: 'My Orders' }).waitFor();
  await browser.shot('my-orders');
  // Orders learns of the payment from the payment:created event, a moment after the charge.
  const line = await eventually('the order to be complete', 10_000, async () => {
    const text = (await page.locator('ul.orders li', { hasText: title }).innerText()).trim();
    if (text.endsWith(' - complete')) return text;
    await page.reload();
    return false;
  });
  assert.equal(line, `${title} - 20.00 - complete`);
  await browser.shot('my-orders-complete');
});

test('a sold ticket is no longer for sale', async () => {
  const { page } = browser;
  await page.goto(`${BASE}/`);
  const rows = await ticketRows(page);
  assert.ok(!rows.some(([t]) => t === title), `the sold ticket is gone: ${JSON.stringify(rows)}`);
  await browser.shot('landing-without-sold-ticket');
  await page.goto(orderUrl);
  await page.getByText('Paid. Enjoy the show!').waitFor();
  await browser.shot('order-paid');
});
