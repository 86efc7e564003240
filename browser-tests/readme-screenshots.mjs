// Takes the README's screenshots of the UI (docs/screenshots/*.png, 1200x800) against STACK_URL:
//   STACK_URL=http://ticketing.localhost:8080 node browser-tests/readme-screenshots.mjs
// It signs up two users and lists a few tickets on that stack.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BASE, launch, purchase, sellTicket, signOut, signUp, uniqueEmail } from './tests/support.mjs';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');
const browser = await launch('readme');
const { page } = browser;
const save = (name) => page.screenshot({ path: path.join(DOCS, `${name}.png`) });

try {
  await page.goto(`${BASE}/auth/signup`);
  await page.getByLabel('Email Address').fill('alice@example');
  await page.getByLabel('Password').fill('abc');
  await page.getByRole('button', { name: 'Sign Up' }).click();
  await page.locator('.alert-danger').waitFor();
  await save('signup-errors');

  await signUp(browser, uniqueEmail('seller'));
  for (const [title, price] of [
    ['Radiohead — Madison Square Garden', '145'],
    ['Hamilton, Saturday matinée', '89.5'],
    ['Champions League final, block C', '320'],
  ]) {
    await sellTicket(browser, title, price);
  }
  await signOut(browser);
  await signUp(browser, 'alice@example.com'.replace('alice', `alice-${Date.now().toString(36)}`));
  await page.goto(`${BASE}/`);
  await save('tickets');

  await purchase(browser, 'Hamilton, Saturday matinée');
  await save('order');
} finally {
  await browser.close();
}
