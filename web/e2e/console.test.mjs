// End-to-end tests of the staff console (issue 9 item 8), with the harness of
// foundation.test.mjs (e2e/harness.mjs): a real server from TKESJ_BIN, codes
// from the test's SMS webhook, Debian's Chromium. Staff are made with
// `tkesj admin staff add` beside the running server, on its data directory.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/console.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  alert,
  axeViolations,
  browser,
  codeFor,
  newPerson,
  register,
  server,
  shots,
  sms,
  tab,
  textMatches,
  apiRegister,
  status,
} from './harness.mjs';

/** `tkesj admin staff add`, on the running server's data directory. */
function addStaff(username, role) {
  const res = spawnSync(process.env.TKESJ_BIN, ['admin', 'staff', 'add', '--username', username, '--role', role, '--data', path.join(server.dir, 'data')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(res.status, 0, `staff add ${username}: ${res.stderr || res.stdout}`);
}

/** A staff member in the browser (signed in by token; CSP bypassed so axe can be injected). */
async function staffMember(u, role) {
  const a = await apiRegister(u);
  addStaff(u.username, role);
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 }, bypassCSP: true });
  context.setDefaultTimeout(15_000);
  await context.addInitScript((tok) => localStorage.setItem('tkesj.token', tok), a.token);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { ...a, context, page, problems };
}

async function axeBoth(page, where, found) {
  await page.waitForLoadState('networkidle');
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    found.push(...(await axeViolations(page, `${where} [${scheme}]`)));
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function openSection(page, name) {
  await page.goto(`${server.base}/staff`);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
}

const pat = { phone: '+8613700137001', username: 'pat_person', nickname: 'Pat Zhou', gender: 'female' };
const PURPOSE = 'Answering Pat’s explanation request within the 30-day deadline';
let patP; // Pat's browser (ordinary person)
let patId = '';
const found = []; // axe violations over every console screen

test('an ordinary person sees no Staff entry, and /staff refuses', { timeout: 120_000 }, async () => {
  patP = await newPerson();
  const { page } = patP;
  await register(page, pat);
  patId = await page.evaluate(async () => {
    const r = await fetch('/api/v1/me', { headers: { Authorization: `Bearer ${localStorage.getItem('tkesj.token')}` } });
    return (await r.json()).id;
  });
  // The client learns staff membership from GET /me (staff_role only for
  // staff), so an ordinary page load asks nothing that the server refuses.
  const asked = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/admin/')) asked.push(r.url()); });
  const checked = page.waitForResponse((r) => r.url().endsWith('/api/v1/me') && r.request().method() === 'GET');
  await page.reload();
  const me = await (await checked).json();
  assert.equal(me.staff_role, undefined);
  await page.getByRole('link', { name: 'My data' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Staff console' }).count(), 0);
  assert.deepEqual(asked, []);
  await page.goto(`${server.base}/staff`);
  await textMatches(alert(page), /only for staff/);
  await page.goto(`${server.base}/staff/stats`);
  await textMatches(alert(page), /only for staff/);
  assert.deepEqual(patP.problems, []);
});

test('a privacy officer reads a rights request only with a purpose, answers it, and the person sees the read', { timeout: 180_000 }, async () => {
  const { page } = patP;
  // Pat asks for an explanation and confirms it is her.
  await tab(page, 'Me').click();
  await page.getByRole('link', { name: 'My data' }).click();
  await page.getByText('No one on the staff has looked at your data.').waitFor();
  await page.getByLabel('Request', { exact: true }).selectOption('explanation');
  await page.getByLabel('Details').fill('How are my Moments pictures stored?');
  const since = sms.codes.length;
  await page.getByRole('button', { name: 'Send request' }).click();
  const rights = page.getByRole('list', { name: 'Your requests' });
  await rights.getByText('How are my Moments pictures stored?').waitFor();
  await rights.getByLabel('Verification code').fill(await codeFor(pat.phone, 'step_up', since));
  await rights.getByRole('button', { name: 'Verify' }).click();
  await rights.getByText('Identity verified').waitFor();

  const po = await staffMember({ phone: '+8613700137002', username: 'po_one', nickname: 'Officer One' }, 'privacy_officer');
  const p = po.page;
  await p.goto(`${server.base}/me`);
  await p.getByRole('link', { name: 'Staff console' }).click();
  await p.getByRole('heading', { name: 'Staff console', level: 1 }).waitFor();
  await p.getByText('Your role: Privacy officer').waitFor();
  const nav = p.getByRole('navigation', { name: 'Sections' });
  for (const name of ['Rights requests', 'Incidents', 'Legal holds', 'Recipients & sharing', 'Policy versions']) await nav.getByRole('link', { name }).waitFor();
  for (const name of ['People', 'Statistics', 'Audit log', 'Announcements']) assert.equal(await nav.getByRole('link', { name }).count(), 0, name);
  await axeBoth(p, 'console (privacy officer)', found);

  await nav.getByRole('link', { name: 'Rights requests' }).click();
  const queue = p.getByRole('region', { name: 'Open requests' });
  await queue.getByText('Explanation').waitFor();
  await queue.getByText(/^\d+ days$/).waitFor(); // days left
  await axeBoth(p, 'rights queue', found);
  // The details are not on the page until a purpose is given.
  assert.equal(await p.getByText('How are my Moments pictures stored?').count(), 0);
  await queue.getByRole('button', { name: /^Read details of the Explanation request/ }).click();
  const dialog = p.getByRole('dialog', { name: 'Why do you need to read this?' });
  await dialog.waitFor();
  const read = dialog.getByRole('button', { name: 'Read', exact: true });
  assert.ok(await read.isDisabled(), 'no read without a purpose');
  await dialog.getByLabel('Purpose of this read').fill('because');
  assert.ok(await read.isDisabled(), 'a purpose has at least 10 characters');
  await axeBoth(p, 'purpose dialog', found);
  await dialog.getByLabel('Purpose of this read').fill(PURPOSE);
  await read.click();
  await dialog.waitFor({ state: 'hidden' });
  await p.getByText('How are my Moments pictures stored?').waitFor();
  await p.getByText(patId).waitFor();
  // A refusal needs its reason.
  await p.getByLabel('Next step').selectOption('refused');
  await p.getByLabel('Reason for the refusal (required)').waitFor();
  assert.ok(await p.getByRole('button', { name: 'Update request' }).isDisabled());
  await p.getByLabel('Next step').selectOption('done');
  await p.getByLabel('Answer to the person').fill('Your pictures are stored encrypted on our servers in China.');
  await p.getByRole('button', { name: 'Update request' }).click();
  await textMatches(status(p), /now “Done”/);
  await axeBoth(p, 'rights detail', found);
  await shots(p, 'console-rights');

  // Pat sees the answer, and who read her request and why.
  await page.reload();
  await rights.getByText('Done').waitFor();
  await rights.getByText(/Your pictures are stored encrypted/).waitFor();
  const log = page.getByRole('list', { name: 'Reads of your data' });
  await log.getByText(`Reason: ${PURPOSE}`).waitFor();
  await log.getByText(/Privacy officer/).waitFor();
  assert.deepEqual([...patP.problems, ...po.problems], []);
  await po.context.close();
});

test('a legal hold needs a second privacy officer to approve it', { timeout: 180_000 }, async () => {
  const one = await staffMember({ phone: '+8613700137003', username: 'po_first', nickname: 'Officer First' }, 'privacy_officer');
  await openSection(one.page, 'Legal holds');
  await one.page.getByLabel('Subject id').fill(patId);
  await one.page.getByLabel('Legal ground').selectOption('criminal_investigation');
  await one.page.getByLabel('Reference (3 to 200 characters)').fill('Court order 2026-117');
  await one.page.getByRole('button', { name: 'Ask for hold' }).click();
  await textMatches(status(one.page), /pending: a second staff member/);
  const holds = one.page.getByRole('list', { name: 'Holds' });
  await holds.getByText('Pending approval').waitFor();
  await axeBoth(one.page, 'holds', found);
  // The one who asked cannot approve: the server refuses, and the UI says so.
  await holds.getByRole('button', { name: 'Approve hold Court order 2026-117' }).click();
  await textMatches(alert(one.page), /second staff member, not the one who asked/);
  await holds.getByText('Pending approval').waitFor();

  const two = await staffMember({ phone: '+8613700137004', username: 'po_second', nickname: 'Officer Second' }, 'privacy_officer');
  await openSection(two.page, 'Legal holds');
  const holds2 = two.page.getByRole('list', { name: 'Holds' });
  await holds2.getByRole('button', { name: 'Approve hold Court order 2026-117' }).click();
  await textMatches(status(two.page), /The hold is active/);
  await holds2.getByText('Active', { exact: true }).waitFor();
  await holds2.getByText(/Approved by/).waitFor();
  assert.deepEqual([...one.problems, ...two.problems], []);
  await one.context.close();
  await two.context.close();
});

test('an admin sees statistics, sends an announcement the person reads, and axe passes on every console screen', { timeout: 300_000 }, async () => {
  const adm = await staffMember({ phone: '+8613700137005', username: 'admin_ann', nickname: 'Admin Ann' }, 'admin');
  const p = adm.page;
  await p.goto(`${server.base}/staff`);
  await p.getByText('Your role: Administrator').waitFor();
  await shots(p, 'console');

  // Statistics: small counts are suppressed as "<10".
  await openSection(p, 'Statistics');
  await p.getByRole('region', { name: 'Active users per day' }).waitFor();
  await p.getByRole('cell', { name: '<10' }).first().waitFor();
  await p.getByText(/shown as “<10”/).waitFor();

  // An announcement reaches the person's inbox under Me.
  await openSection(p, 'Announcements');
  await p.getByLabel('Title').fill('Maintenance on Sunday');
  await p.getByLabel('Text', { exact: true }).fill('tkesj will be unavailable for ten minutes at 03:00 UTC.');
  await p.getByRole('button', { name: 'Send announcement' }).click();
  await textMatches(status(p), /Announcement sent/);
  const { page } = patP;
  await tab(page, 'Me').click();
  await page.getByRole('link', { name: 'Announcements' }).click();
  await page.getByRole('heading', { name: 'Announcements', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'Maintenance on Sunday' }).waitFor();
  await page.getByText('tkesj will be unavailable for ten minutes at 03:00 UTC.').waitFor();

  // The audit log is read with a purpose too, and shows the officer's read.
  await openSection(p, 'Audit log');
  await p.getByRole('button', { name: 'Read audit log' }).click();
  const dialog = p.getByRole('dialog', { name: 'Why do you need to read this?' });
  await dialog.getByLabel('Purpose of this read').fill('Monthly review of staff access to personal data');
  await dialog.getByRole('button', { name: 'Read', exact: true }).click();
  const entries = p.getByRole('region', { name: 'Audit log entries' });
  await entries.getByText('read:rights_request').first().waitFor();
  await entries.getByText(new RegExp(PURPOSE)).first().waitFor();

  // People: a profile with devices, after the purpose prompt.
  await openSection(p, 'People');
  await p.getByLabel('User id').fill(patId);
  await p.getByRole('button', { name: 'Look up' }).click();
  await dialog.getByLabel('Purpose of this read').fill('Checking the account named in a legal hold');
  await dialog.getByRole('button', { name: 'Read', exact: true }).click();
  await p.getByText('pat_person').waitFor();
  await p.getByRole('region', { name: 'Devices' }).waitFor();

  // Every section, light and dark.
  const sections = [
    ['People', () => p.getByLabel('User id').waitFor()],
    ['Rights requests', () => p.getByText('No open requests.').waitFor()],
    ['Reports & moderation', () => p.getByText('No reports.').waitFor()],
    ['Incidents', () => p.getByText('No incidents recorded.').waitFor()],
    ['Legal holds', () => p.getByRole('list', { name: 'Holds' }).waitFor()],
    ['Legal processing', () => p.getByRole('button', { name: 'Record processing' }).waitFor()],
    ['Recipients & sharing', () => p.getByRole('button', { name: 'Add recipient' }).waitFor()],
    ['Announcements', () => p.getByRole('button', { name: 'Send announcement' }).waitFor()],
    ['Statistics', () => p.getByRole('region', { name: 'Active users per day' }).waitFor()],
    ['Audit log', () => p.getByRole('button', { name: 'Read audit log' }).waitFor()],
    ['Staff', () => p.getByRole('region', { name: 'Staff members' }).waitFor()],
    ['Support tickets', () => p.getByText('No tickets.').waitFor()],
    ['Policy versions', () => p.getByText(/tkesj admin policy publish/).waitFor()],
  ];
  await axeBoth(p, 'console (admin)', found);
  for (const [name, ready] of sections) {
    await openSection(p, name);
    await ready();
    await axeBoth(p, name, found);
  }

  // Incidents: recorded with the people affected, who are notified.
  await openSection(p, 'Incidents');
  await p.getByLabel('What happened (10 to 2000 characters)').fill('A misconfigured backup bucket was readable for two hours.');
  await p.getByLabel('When it happened').fill(new Date(Date.now() - 86400_000).toISOString().slice(0, 16));
  await p.getByLabel(/^Data categories/).fill('profile, phone');
  await p.getByLabel('Affected user ids (comma or space separated)').fill(patId);
  await p.getByRole('button', { name: 'Record incident' }).click();
  await textMatches(status(p), /Incident recorded/);
  await p.getByRole('region', { name: 'People notified' }).getByText(patId).waitFor();
  await axeBoth(p, 'incident detail', found);

  assert.deepEqual(found, []);
  assert.deepEqual([...adm.problems, ...patP.problems], []);
  await adm.context.close();
  await patP.context.close();
});
