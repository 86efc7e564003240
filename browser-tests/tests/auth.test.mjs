// Sign up (and a bad sign-up), sign out, sign in (and a bad sign-in), and pages without JavaScript.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BASE,
  SIGNED_IN_NAV,
  SIGNED_OUT_NAV,
  errorMessages,
  launch,
  navLinks,
  sharedBrowser,
  signOut,
  signUp,
  uniqueEmail,
} from './support.mjs';

const browser = sharedBrowser('auth');

const email = uniqueEmail('auth');

test('a bad sign-up shows both field errors from the API', async () => {
  const { page } = browser;
  await page.goto(`${BASE}/auth/signup`);
  assert.deepEqual(await navLinks(page), SIGNED_OUT_NAV);
  await browser.shot('signup');
  await page.getByLabel('Email Address').fill('not-an-email');
  await page.getByLabel('Password').fill('1');
  await page.getByRole('button', { name: 'Sign Up' }).click();

  assert.deepEqual(await errorMessages(page), [
    'Email must be valid',
    'Password must be between 4 and 20 characters',
  ]);
  assert.equal(await page.getByLabel('Email Address').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  assert.equal(page.url(), `${BASE}/auth/signup`);
  await browser.shot('signup-errors');
});

test('signing up lands on the tickets, signed in', async () => {
  await signUp(browser, email);
  assert.deepEqual(await navLinks(browser.page), SIGNED_IN_NAV);
  assert.equal(await browser.page.locator('.nav-user').textContent(), `Signed in as ${email}`);
});

test('signing out shows Sign Up and Sign In again', async () => {
  await signOut(browser);
  assert.deepEqual(await navLinks(browser.page), SIGNED_OUT_NAV);
});

test('a wrong password is refused with the API message', async () => {
  const { page } = browser;
  await page.goto(`${BASE}/auth/signin`);
  await page.getByLabel('Email Address').fill(email);
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign In' }).click();
  assert.deepEqual(await errorMessages(page), ['Invalid credentials']);
  await browser.shot('signin-errors');
});

test('signing in again lands on the tickets, signed in', async () => {
  await signUp(browser, email, 'password', 'signin');
  assert.deepEqual(await navLinks(browser.page), SIGNED_IN_NAV);
});

test('an unknown page is the 404 page', async () => {
  const { page } = browser;
  const response = await page.goto(`${BASE}/no/such/page`);
  assert.equal(response.status(), 404);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  assert.deepEqual(await navLinks(page), SIGNED_IN_NAV);
  await browser.shot('not-found');
});

test('pages read fine with JavaScript off', async () => {
  const noScript = await launch('no-javascript', { javaScriptEnabled: false });
  try {
    const { page } = noScript;
    await page.goto(`${BASE}/auth/signup`);
    assert.deepEqual(await navLinks(page), SIGNED_OUT_NAV);
    await page.getByRole('heading', { name: 'Sign Up' }).waitFor();
    await page.getByLabel('Email Address').waitFor();
    // (Chromium still parses <noscript> as if scripts ran when Playwright turns them off, so
    // the "needs JavaScript" note is asserted by the Rust tests, not here.)
    await noScript.shot('signup');
    const response = await page.goto(`${BASE}/no/such/page`);
    assert.equal(response.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await noScript.shot('not-found');
  } finally {
    await noScript.close();
  }
});
