// End-to-end tests of the web client against a real tkesj server.
//
// Needs: TKESJ_BIN, the path to a built tkesj binary (e.g. `go build -o /tmp/tkesj
// ./cmd/tkesj`), and Debian's Chromium at /usr/bin/chromium (or CHROMIUM=path).
// Run from web/: `TKESJ_BIN=/tmp/tkesj npm run e2e` (or `node --test e2e/`).
//
// Each run starts its own server on a free loopback port with a fresh data
// directory, and a tiny HTTP server that receives the one-time codes the server
// would text (--sms-webhook), so the browser can type them.


import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AXE, PASSWORD, server, browser, sms, codeFor, newPerson, textMatches, until, shots, alert, fillRegistration, register, tab, openFromMe, axeViolations } from './harness.mjs';


/** A link of the main tab bar: Chats, Contacts, Moments, Me. */
test('R-ACC-1 R-ACC-4 R-DEV-4 R-PRM-1 R-CON-1: register, permissions and their history, devices, logins, remote sign-out', { timeout: 240_000 }, async () => {
  const alice = { phone: '+8613800138000', username: 'alice_e2e', nickname: 'Alice Wang', gender: 'female' };
  const a = await newPerson();
  const page = a.page;

  // Live password feedback names what is missing.
  await page.goto(`${server.base}/register`);
  const pw = page.getByRole('textbox', { name: 'Password', exact: true });
  await pw.fill('abcdefgh');
  await textMatches(page.locator('#password-summary'), /Missing: uppercase, digit, symbol\. Add 2 of them/);
  await pw.fill('abcdefgH1');
  await textMatches(page.locator('#password-summary'), /Strong enough/);
  await pw.fill('aaaaaaaaaaaaaaaa');
  await textMatches(page.locator('#password-summary'), /Strong enough/);
  await page.getByLabel('Username').fill(alice.username);
  await pw.fill(`${alice.username.toUpperCase()}-2026`);
  await textMatches(page.locator('#password-summary'), /contains your username/);

  await fillRegistration(page, alice);
  await shots(page, 'register');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/me');
  await page.getByText(alice.nickname, { exact: true }).waitFor();
  await page.getByText(`Username: ${alice.username}`).waitFor();
  await shots(page, 'me');

  // Privacy: grant then revoke location; both show in the history, oldest first.
  await openFromMe(page, 'Privacy');
  const location = page.getByRole('switch', { name: 'Location' });
  await until('switches to load', () => location.isEnabled());
  assert.equal(await location.isChecked(), false, 'permissions start not granted');
  await location.click();
  await textMatches(page.getByRole('status').filter({ hasText: /\S/ }), /Location allowed/);
  await until('location on', async () => (await location.isChecked()) && (await location.isEnabled()));
  await location.click();
  await textMatches(page.getByRole('status').filter({ hasText: /\S/ }), /Location turned off/);
  await until('location off', async () => !(await location.isChecked()) && (await location.isEnabled()));
  const history = page.getByRole('list', { name: 'Consent history' }).getByRole('listitem');
  await until('two location entries', async () => (await history.filter({ hasText: 'Permission: Location' }).count()) === 2);
  const entries = await history.allTextContents();
  assert.match(entries[0], /Privacy policy/, 'registration recorded the policy acceptance first');
  const loc = entries.filter((e) => e.includes('Permission: Location'));
  assert.match(loc[0], /Granted/);
  assert.match(loc[1], /Withdrawn/);
  assert.equal(
    await page.getByRole('region', { name: 'Permissions' }).getByRole('switch', { checked: true }).count(),
    0,
    'no permission is on after revoking',
  );
  await shots(page, 'privacy');

  // Devices: only this one, marked as current.
  await openFromMe(page, 'Account and Security');
  const devicesA = page.locator('li.device');
  await until('one device', async () => (await devicesA.count()) === 1);
  await textMatches(devicesA, /This device/);

  // Log out, then back in with username and password.
  await tab(page, 'Me').click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/login');
  assert.equal(await page.evaluate(() => localStorage.getItem('tkesj.token')), null, 'logging out forgets the token');
  await page.getByLabel('Username or phone number').fill(alice.username);
  await page.getByRole('textbox', { name: 'Password', exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await textMatches(alert(page), /\S/); // the server's detail for a wrong password
  assert.match(page.url(), /\/login$/);
  // This time by keyboard alone: Tab from the login field, Enter submits.
  await page.getByLabel('Username or phone number').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'password', 'Tab moves from login to password');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.waitForURL('**/me');
  await page.getByText(alice.nickname, { exact: true }).waitFor();

  // A second browser logs in with phone and one-time code.
  const b = await newPerson();
  await b.page.goto(`${server.base}/login`);
  // The login tabs follow the tab-list keyboard pattern: arrows move between them.
  await b.page.getByRole('tab', { name: 'Password' }).focus();
  await b.page.keyboard.press('ArrowRight');
  assert.equal(await b.page.getByRole('tab', { name: 'Code' }).getAttribute('aria-selected'), 'true');
  await b.page.getByLabel('Mobile phone number').fill(alice.phone);
  const since = sms.codes.length;
  await b.page.getByRole('button', { name: 'Send code' }).click();
  await b.page.getByLabel('Verification code').fill(await codeFor(alice.phone, 'login', since));
  await b.page.getByRole('button', { name: 'Log in', exact: true }).click();
  await b.page.waitForURL('**/me');
  await b.page.getByText(alice.nickname, { exact: true }).waitFor();
  const deviceB = await b.page.evaluate(() => localStorage.getItem('tkesj.device'));
  assert.ok(deviceB);

  // The first browser sees both devices and signs the second one out.
  await openFromMe(page, 'Account and Security');
  await until('two devices', async () => (await devicesA.count()) === 2);
  const rowB = page.locator(`li.device[data-device-id="${deviceB}"]`);
  assert.doesNotMatch(await rowB.textContent(), /This device/);
  await shots(page, 'security');
  await rowB.getByRole('button', { name: /^Sign out/ }).click();
  await rowB.getByRole('button', { name: 'Yes, sign it out' }).click();
  await textMatches(page.getByRole('status').filter({ hasText: /\S/ }), /was signed out/);
  await until('one device left', async () => (await devicesA.count()) === 1);

  // The second browser lands on the login screen: at once, when the server
  // closes its WebSocket, or at its next call, which answers 401.
  if (!/\/login$/.test(b.page.url())) await b.page.getByRole('link', { name: 'Account and Security' }).click({ timeout: 5000 }).catch(() => {});
  await b.page.waitForURL('**/login');
  await textMatches(b.page.getByRole('status').filter({ hasText: /\S/ }), /signed out/);
  assert.equal(await b.page.evaluate(() => localStorage.getItem('tkesj.token')), null);

  // The first browser is still signed in.
  await page.reload();
  await page.getByRole('heading', { name: 'Account and Security', level: 1 }).waitFor();

  assert.deepEqual([...a.problems, ...b.problems], [], 'no page errors or CSP violations');
  await a.context.close();
  await b.context.close();
});

test('R-ACC-5 R-DEL-2: profile edit, language, empty chats, code rate limit, destroy account', { timeout: 240_000 }, async (t) => {
  const bob = { phone: '+8613900139000', username: 'bob_e2e', nickname: 'Bob Li', gender: 'male' };
  const p = await newPerson();
  const page = p.page;
  await register(page, bob);

  // Correct the nickname.
  await openFromMe(page, 'Profile');
  await page.getByLabel('Nickname').fill('Bob Li Jr');
  await page.getByRole('button', { name: 'Save' }).click();
  await textMatches(page.getByRole('status').filter({ hasText: /\S/ }), /Saved/);
  await tab(page, 'Me').click();
  await page.getByText('Bob Li Jr', { exact: true }).waitFor();

  // Switch the language to Chinese and back.
  await page.getByLabel('Language').selectOption('zh');
  await page.getByRole('heading', { name: '我', level: 1 }).waitFor();
  await page.getByLabel('语言').selectOption('en');
  await page.getByRole('heading', { name: 'Me', level: 1 }).waitFor();

  // A new account has no chats yet, and the screen says where to start one.
  await tab(page, 'Chats').click();
  await page.getByText('No chats yet').waitFor();

  // Asking for codes too fast: a 429 shows how long to wait (from Retry-After).
  // API.md allows, but does not require, a per-phone cooldown.
  const other = await newPerson();
  let limited = '';
  for (let i = 0; i < 2 && !limited; i++) {
    await other.page.goto(`${server.base}/login`);
    await other.page.getByRole('tab', { name: 'Code' }).click();
    await other.page.getByLabel('Mobile phone number').fill(bob.phone);
    await other.page.getByRole('button', { name: 'Send code' }).click();
    await until('an answer to Send code', async () => (await other.page.getByRole('button', { name: /Resend in \d+ s/ }).count()) === 1);
    limited = (await alert(other.page).count()) ? await alert(other.page).textContent() : '';
  }
  if (limited) assert.match(limited, /Try again in \d+ seconds/);
  else t.diagnostic('the server has no per-phone code cooldown; the 429 message was not exercised');
  await other.context.close();

  // Destroy: a wrong password is refused with the server's explanation, and
  // does not sign the person out.
  await openFromMe(page, 'Account and Security');
  await page.getByRole('link', { name: 'Destroy account' }).click();
  await page.getByText('This cannot be undone.').waitFor();
  await page.getByLabel('Enter your password to confirm').fill('Wrong-passw0rd');
  await page.getByRole('button', { name: 'Destroy my account' }).click();
  await textMatches(alert(page), /\S/);
  assert.match(page.url(), /\/me\/security\/destroy$/, 'a wrong password keeps the person on the form');
  await page.getByLabel('Enter your password to confirm').fill(PASSWORD);
  await page.getByRole('button', { name: 'Destroy my account' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await page.getByText('Your account has been destroyed.').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('tkesj.token')), null);

  // The account is gone: its password no longer logs in.
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.getByLabel('Username or phone number').fill(bob.username);
  await page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await textMatches(alert(page), /\S/);
  assert.match(page.url(), /\/login$/);

  assert.deepEqual(p.problems, [], 'no page errors or CSP violations');
  await p.context.close();
});

test('R-RGT-1: request a data export and download it with the bearer token', { timeout: 240_000 }, async (t) => {
  const carol = { phone: '+8613700137000', username: 'carol_e2e', nickname: 'Carol Zhao', gender: 'unspecified' };
  const p = await newPerson();
  const page = p.page;
  await register(page, carol);

  // The export endpoints come after the foundation: until the server's OpenAPI
  // document lists them, say so rather than fail.
  const doc = await (await fetch(`${server.base}/api/v1/openapi.json`)).json();
  if (!doc.paths?.['/api/v1/me/exports']) {
    t.skip('the server does not serve POST /api/v1/me/exports yet (absent from /api/v1/openapi.json)');
    await p.context.close();
    return;
  }

  await openFromMe(page, 'My data');
  await page.getByRole('button', { name: 'Request export' }).click();
  await page.getByText('Your export is ready.').waitFor({ timeout: 120_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download export' }).click()]);
  const file = await download.path();
  assert.ok(fs.statSync(file).size > 0, 'the export archive is not empty');
  assert.match(download.suggestedFilename(), /\.zip$/);

  // Where the server lists earlier exports (beyond API.md), the screen picks the
  // ready one up again after leaving it.
  if (doc.paths['/api/v1/me/exports'].get) {
    await openFromMe(page, 'Profile');
    await openFromMe(page, 'My data');
    await page.getByText('Your export is ready.').waitFor();
    await page.getByRole('button', { name: 'Download export' }).waitFor();
  }

  assert.deepEqual(p.problems, [], 'no page errors or CSP violations');
  await p.context.close();
});

test('accessibility: axe finds no WCAG 2.1 A/AA violations on the foundation screens', { timeout: 240_000 }, async () => {
  // axe is injected as a script, which the server's CSP rightly forbids; this
  // context alone bypasses CSP (the other tests check that the app needs no
  // exception).
  const found = [];
  for (const scheme of ['light', 'dark']) {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 }, bypassCSP: true, colorScheme: scheme });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const check = async (where) => found.push(...(await axeViolations(page, `${where} [${scheme}]`)));

    await page.goto(`${server.base}/`);
    await page.getByRole('link', { name: 'Create account' }).waitFor();
    await check('welcome');
    await page.goto(`${server.base}/login`);
    await page.getByRole('tab', { name: 'Code' }).click();
    await check('login');
    await page.goto(`${server.base}/register`);
    await page.getByRole('region', { name: /Privacy policy/ }).waitFor();
    await check('register');
    const n = scheme === 'light' ? '1' : '2';
    await register(page, { phone: `+861350013500${n}`, username: `axe_${scheme}`, nickname: `Axe ${scheme}`, gender: 'other' });
    await check('me');
    for (const item of ['Profile', 'Account and Security', 'Privacy', 'My data']) {
      await openFromMe(page, item);
      await page.waitForLoadState('networkidle');
      await check(item);
    }
    await openFromMe(page, 'Account and Security');
    await page.getByRole('link', { name: 'Destroy account' }).click();
    await page.getByText('This cannot be undone.').waitFor();
    await check('destroy');
    await tab(page, 'Chats').click();
    await check('chats');
    await context.close();
  }
  assert.deepEqual(found, []);
});
