// End-to-end tests of chats, contacts, Moments and QR login (issue 6), with the
// harness of foundation.test.mjs (e2e/harness.mjs): a real server from
// TKESJ_BIN, codes from the test's SMS webhook, Debian's Chromium. Chromium
// runs with a fake microphone, so a voice note is really recorded.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/chat.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  PASSWORD,
  axeViolations,
  browser,
  codeFor,
  launchArgs,
  newPerson,
  register,
  server,
  shots,
  sms,
  tab,
  textMatches,
  until,
  apiRegister,
  log,
  status,
} from './harness.mjs';

launchArgs.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required');

/** A person in the browser who may use the microphone and location. */
async function newMediaPerson() {
  const p = await newPerson();
  if (process.env.DEBUG_WS)
    p.page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => console.log('recv', String(f.payload).slice(0, 200)));
      ws.on('framesent', (f) => console.log('sent', String(f.payload).slice(0, 200)));
    });
  await p.context.grantPermissions(['microphone', 'geolocation'], { origin: server.base });
  await p.context.setGeolocation({ latitude: 31.2304, longitude: 121.4737 });
  return p;
}

/** A small real PNG (a screenshot of a blank page), to upload as a picture. */
async function pngBytes() {
  const ctx = await browser.newContext({ viewport: { width: 64, height: 48 } });
  const page = await ctx.newPage();
  await page.setContent('<body style="margin:0;background:#2a7"></body>');
  const buf = await page.screenshot();
  await ctx.close();
  return buf;
}

/** Opens the conversation with `name` from the Chats tab. */
async function openChat(page, name) {
  await tab(page, 'Chats').click();
  await page.locator('a.chat-row', { hasText: name }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  await page.getByRole('log').waitFor();
}

async function sendText(page, text) {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

test('issue 6: friends, real-time chat with pictures and voice, Moments, QR login, export, destroy', { timeout: 420_000 }, async (t) => {
  const alice = { phone: '+8613800238000', username: 'alice_chat', nickname: 'Alice Wang', gender: 'female' };
  const bob = { phone: '+8613900239000', username: 'bob_chat', nickname: 'Bob Li', gender: 'male' };
  const a = await newMediaPerson();
  const b = await newMediaPerson();
  await register(a.page, alice);
  await register(b.page, bob);

  // Alice finds Bob by his exact username and asks to be friends.
  await tab(a.page, 'Contacts').click();
  await a.page.getByRole('heading', { name: 'Contacts', level: 1 }).waitFor();
  await a.page.getByRole('link', { name: 'Add friend' }).click();
  await a.page.getByLabel('Username or phone number').fill(bob.username);
  await a.page.getByRole('button', { name: 'Search' }).click();
  await a.page.getByRole('list', { name: 'People found' }).getByText(bob.nickname).waitFor();
  await a.page.getByRole('button', { name: 'Add', exact: true }).click();
  await textMatches(status(a.page), /Friend request sent to Bob Li/);

  // Bob sees the request arrive on his open Contacts screen and accepts it.
  await tab(b.page, 'Contacts').click();
  await b.page.getByRole('heading', { name: 'Friend requests' }).waitFor();
  await b.page.getByRole('button', { name: `Accept ${alice.nickname}` }).click();
  await textMatches(status(b.page), /You and Alice Wang are now friends/);
  await b.page.getByRole('list', { name: /Friends \(1\)/ }).getByText(alice.nickname).waitFor();

  // Bob gives Alice a remark, then opens a chat from her page.
  await b.page.getByRole('link', { name: new RegExp(alice.nickname) }).click();
  await b.page.getByLabel('Remark').fill('Alice (work)');
  await b.page.getByRole('button', { name: 'Save' }).click();
  await textMatches(status(b.page), /Saved/);
  await b.page.getByRole('heading', { name: 'Alice (work)', level: 1 }).waitFor();
  await b.page.getByRole('button', { name: 'Message' }).click();
  await b.page.getByRole('heading', { name: 'Alice (work)', level: 1 }).waitFor();

  // Alice waits on her chat list; Bob's message shows up there without a reload.
  await tab(a.page, 'Chats').click();
  await a.page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  await sendText(b.page, 'Hi Alice, it is Bob');
  const rowA = a.page.locator('a.chat-row', { hasText: bob.nickname });
  await textMatches(rowA, /Hi Alice, it is Bob/);
  await textMatches(rowA, /1 unread/);
  await textMatches(a.page.locator('.tab-badge'), /^1$/);

  // Alice opens it and answers; Bob sees the answer and that his message was read.
  await openChat(a.page, bob.nickname);
  await log(a.page).getByText('Hi Alice, it is Bob').waitFor();
  await textMatches(log(b.page).locator('.msg.mine .receipt').last(), /Read/);
  await sendText(a.page, 'Hello Bob!');
  await log(b.page).getByText('Hello Bob!').waitFor();

  // Typing shows on the other side.
  await a.page.getByLabel('Message', { exact: true }).pressSequentially('typing…', { delay: 30 });
  await textMatches(b.page.locator('.typing'), /Alice \(work\) is typing/);
  await a.page.getByLabel('Message', { exact: true }).fill('');

  // A picture, uploaded from the "album": Bob sees its thumbnail.
  await a.page.locator('input[type=file][accept^="image/"]').setInputFiles({ name: 'green.png', mimeType: 'image/png', buffer: await pngBytes() });
  const pic = log(b.page).locator('.bubble-image img');
  await pic.waitFor();
  await until('the thumbnail to load', () => pic.evaluate((img) => img.complete && img.naturalWidth > 0));

  // A voice note from Chromium's fake microphone.
  await b.page.getByRole('button', { name: 'Record a voice message' }).click();
  await b.page.getByRole('button', { name: 'Stop and send' }).waitFor();
  await b.page.waitForTimeout(1500);
  await b.page.getByRole('button', { name: 'Stop and send' }).click();
  const voice = log(a.page).locator('[data-kind=voice] audio');
  await voice.waitFor({ timeout: 20_000 });
  await until('the voice note to load', () => voice.evaluate((el) => el.readyState >= 1));

  // A location (Chromium's geolocation is set by the test).
  await a.page.getByRole('button', { name: 'Send my location' }).click();
  await log(b.page).locator('[data-kind=location]', { hasText: '31.23040, 121.47370' }).waitFor();

  // A file: Bob sees its name and can save it.
  await a.page.locator('.composer-tools input[type=file]:not([accept])').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('meeting at 10\n') });
  const file = log(b.page).locator('[data-kind=file]', { hasText: 'notes.txt' });
  await file.waitFor();
  const [saved] = await Promise.all([b.page.waitForEvent('download'), file.getByRole('button', { name: /notes\.txt/ }).click()]);
  assert.equal(fs.readFileSync(await saved.path(), 'utf8'), 'meeting at 10\n');

  // The permissions used were recorded in Alice's consent history.
  const perms = await a.page.evaluate(async () => {
    const r = await fetch('/api/v1/me/permissions', { headers: { Authorization: `Bearer ${localStorage.getItem('tkesj.token')}` } });
    return r.json();
  });
  assert.equal(perms.permissions?.album, true, 'picking a picture granted album');
  assert.equal(perms.permissions?.location, true, 'sharing a location granted location');

  // Recall within 2 minutes: the other side sees that it was recalled.
  await sendText(b.page, 'oops, wrong chat');
  await log(a.page).getByText('oops, wrong chat').waitFor();
  const mine = log(b.page).locator('.msg.mine', { hasText: 'oops, wrong chat' });
  await mine.getByRole('button', { name: 'Message actions' }).click();
  await mine.getByRole('button', { name: 'Recall' }).click();
  await log(a.page).getByText('Bob Li recalled a message').waitFor();
  assert.equal(await log(a.page).getByText('oops, wrong chat').count(), 0);

  // Delete for me: gone for Bob only.
  const hello = log(b.page).locator('.msg', { hasText: 'Hello Bob!' });
  await hello.getByRole('button', { name: 'Message actions' }).click();
  await hello.getByRole('button', { name: 'Delete for me' }).click();
  await until('Hello Bob! to go', async () => (await log(b.page).getByText('Hello Bob!').count()) === 0);
  await b.page.reload();
  await log(b.page).getByText('Hi Alice, it is Bob').waitFor();
  assert.equal(await log(b.page).getByText('Hello Bob!').count(), 0, 'deleted for me stays deleted');
  assert.equal(await log(a.page).getByText('Hello Bob!').count(), 1, 'Alice keeps it');

  // Two tabs of Alice's: each has its own socket, and each shows a new message once.
  const a2 = await a.context.newPage();
  a2.on('pageerror', (e) => a.problems.push(`pageerror (tab 2): ${e.message}`));
  await a2.goto(a.page.url());
  await log(a2).getByText('Hi Alice, it is Bob').waitFor();
  await sendText(b.page, 'to both tabs');
  for (const p of [a.page, a2]) {
    await log(p).getByText('to both tabs').waitFor();
    await p.waitForTimeout(300);
    assert.equal(await log(p).getByText('to both tabs').count(), 1, 'no duplicates within a tab');
  }

  // Offline and back: the tab reconnects, and the ready frame's catch-up
  // (after_seq) brings what arrived in between, once.
  let sockets = 0;
  a.page.on('websocket', () => sockets++);
  await a.context.setOffline(true);
  await sendText(b.page, 'while you were away');
  await a.page.waitForTimeout(1500);
  await a.context.setOffline(false);
  await log(a.page).getByText('while you were away').waitFor({ timeout: 40_000 });
  assert.equal(await log(a.page).getByText('while you were away').count(), 1);
  assert.ok(sockets >= 1, 'the tab opened a new WebSocket after going back online');
  await a2.close();

  await shots(a.page, 'chat');

  // A long history scrolls in pages: only some rows are in the DOM at once.
  const token = await b.page.evaluate(() => localStorage.getItem('tkesj.token'));
  const convId = decodeURIComponent(new URL(b.page.url()).pathname.split('/')[2]);
  for (let i = 0; i < 130; i++) {
    const r = await fetch(`${server.base}/api/v1/conversations/${convId}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ client_id: `bulk-${i}`, kind: 'text', text: `bulk message ${i}` }),
    });
    if (r.status === 429) {
      await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('Retry-After') || 1)));
      i--;
      continue;
    }
    assert.ok(r.ok, `bulk send ${i}: ${r.status}`);
  }
  // 130 messages in a burst: on the shared 2-core box the tab needs more than the default 15 s to take them all in.
  await log(a.page).getByText('bulk message 129').waitFor({ timeout: 40_000 });
  const rendered = await log(a.page).locator('[data-row]').count();
  assert.ok(rendered < 100, `the list renders a window of rows, not all (${rendered})`);
  await a.page.reload();
  await log(a.page).getByText('bulk message 129').waitFor();
  // Scroll to the top repeatedly: older pages load by before_seq, down to the first message.
  await until(
    'the beginning of the conversation',
    async () => {
      await log(a.page).evaluate((el) => (el.scrollTop = 0));
      return (await log(a.page).getByText('This is the beginning of the conversation.').count()) === 1;
    },
    30_000,
  );
  // Loading a page keeps the reader's place, so scroll up once more to the first message.
  await until('the first message', async () => {
    await log(a.page).evaluate((el) => (el.scrollTop = 0));
    return (await log(a.page).getByText('Hi Alice, it is Bob').count()) === 1;
  });

  // Search finds message text.
  await tab(a.page, 'Chats').click();
  await a.page.getByLabel('Search chats and contacts').fill('tabs');
  await a.page.getByRole('button', { name: 'Search', exact: true }).click();
  await a.page.getByRole('status').getByRole('link', { name: /to both tabs/ }).waitFor();
  await a.page.getByLabel('Search chats and contacts').fill('');
  await a.page.getByRole('button', { name: 'Search', exact: true }).click();
  await shots(a.page, 'chats');

  // Contacts at both widths.
  await tab(b.page, 'Contacts').click();
  await b.page.getByRole('list', { name: /Friends \(1\)/ }).waitFor();
  await shots(b.page, 'contacts');

  // A group: Bob creates it with Alice, sets its announcement; Alice sees it, then leaves.
  await b.page.getByRole('link', { name: 'New group' }).click();
  await b.page.getByLabel('Group name').fill('Weekend hikes');
  await b.page.getByLabel('Alice (work)').check();
  await b.page.getByRole('button', { name: 'Create group' }).click();
  await b.page.getByRole('heading', { name: 'Weekend hikes', level: 1 }).waitFor();
  await sendText(b.page, 'Who is in?');
  await b.page.getByRole('link', { name: 'Chat info' }).click();
  await b.page.getByRole('heading', { name: 'Members (2)' }).waitFor();
  await b.page.getByLabel('Announcement').fill('Meet at the station, 8:00.');
  await b.page.getByRole('button', { name: 'Save' }).click();
  await textMatches(status(b.page), /Saved/);
  await tab(a.page, 'Chats').click();
  await a.page.locator('a.chat-row', { hasText: 'Weekend hikes' }).click();
  await a.page.getByText('Meet at the station, 8:00.').waitFor();
  await log(a.page).getByText('Who is in?').waitFor();
  await textMatches(log(a.page).locator('.msg-sender').first(), /Bob Li/);
  await a.page.getByRole('link', { name: 'Chat info' }).click();
  assert.equal(await a.page.getByLabel('Group name').count(), 0, 'a member cannot rename the group');
  await a.page.getByRole('button', { name: 'Leave group' }).click();
  await a.page.getByRole('button', { name: 'Leave group' }).click();
  await a.page.waitForURL('**/chats');
  await a.page.locator('a.chat-row', { hasText: bob.nickname }).waitFor();
  await a.page.locator('a.chat-row', { hasText: 'Weekend hikes' }).waitFor({ state: 'detached', timeout: 5_000 });


  // Moments: Bob posts with a picture; Alice likes and comments; Bob replies.
  await tab(b.page, 'Moments').click();
  await b.page.getByRole('link', { name: 'Post', exact: true }).click();
  await b.page.getByLabel('What’s on your mind?').fill('Spring in Shanghai');
  await b.page.locator('input[type=file][accept="image/*"]').setInputFiles({ name: 'spring.png', mimeType: 'image/png', buffer: await pngBytes() });
  await b.page.getByRole('img', { name: 'Picture 1' }).waitFor();
  await b.page.getByRole('button', { name: 'Publish' }).click();
  await b.page.waitForURL('**/moments');
  const postB = b.page.locator('article.moment', { hasText: 'Spring in Shanghai' });
  await postB.waitFor();

  await tab(a.page, 'Moments').click();
  const postA = a.page.locator('article.moment', { hasText: 'Spring in Shanghai' });
  await postA.waitFor();
  await until('the post picture', () => postA.locator('img.moment-pic').evaluate((img) => img.complete && img.naturalWidth > 0));
  await postA.getByRole('button', { name: 'Like' }).click();
  await postA.getByRole('button', { name: 'Unlike' }).waitFor();
  await postA.getByLabel('Comment').fill('Beautiful!');
  await postA.getByRole('button', { name: 'Send' }).click();
  await postA.getByText('Beautiful!').waitFor();
  // Bob hears of the like and the comment on his open timeline.
  await textMatches(postB.locator('.likes'), /Alice \(work\)/);
  await postB.getByRole('button', { name: /Reply to Alice \(work\)/ }).click();
  await postB.getByRole('textbox', { name: 'Reply to Alice (work)' }).fill('Thanks!');
  await postB.getByRole('button', { name: 'Send' }).click();
  await postB.getByText(/replied to\s*Alice \(work\)\s*: Thanks!/).waitFor();
  await shots(b.page, 'moments');

  // Bob's own album, and his Moments range setting.
  await b.page.getByRole('link', { name: 'My posts' }).click();
  await b.page.getByRole('heading', { name: 'Bob Li’s posts' }).waitFor();
  await b.page.locator('article.moment', { hasText: 'Spring in Shanghai' }).waitFor();
  await tab(b.page, 'Me').click();
  await b.page.getByRole('link', { name: 'Privacy' }).click();
  await b.page.getByLabel('Friends can see my Moments from').selectOption('6m');
  await textMatches(status(b.page), /Saved/);
  const show = b.page.getByRole('switch', { name: 'Show message text in notifications' });
  const before = await show.isChecked();
  await show.click();
  await until('the switch to flip', async () => (await show.isChecked()) !== before && (await show.isEnabled()));

  // My QR code is a PNG fetched with the token.
  await tab(b.page, 'Me').click();
  await b.page.getByRole('link', { name: 'My QR code' }).click();
  const myQR = b.page.getByRole('img', { name: /QR code to add Bob Li/ });
  await until('the QR code', () => myQR.evaluate((img) => img.complete && img.naturalWidth > 0));

  // Log in on a third browser by QR: Alice confirms from her signed-in one.
  const doc = await (await fetch(`${server.base}/api/v1/openapi.json`)).json();
  if (doc.paths?.['/api/v1/login-qr']) {
    const c = await newPerson();
    await c.page.goto(`${server.base}/login`);
    await c.page.getByRole('tab', { name: 'QR login' }).click();
    await c.page.getByRole('img', { name: /Login QR code/ }).waitFor();
    await c.page.getByText('Can’t scan?').click();
    const payload = (await c.page.locator('.qr-payload').textContent()).trim();
    await shots(c.page, 'login-qr');
    assert.match(payload, /^tkesj:login:/);
    await tab(a.page, 'Me').click();
    await a.page.getByRole('link', { name: 'Scan to log in a web session' }).click();
    await a.page.getByLabel('Login code').fill(payload);
    await a.page.getByRole('button', { name: 'Continue' }).click();
    await textMatches(a.page.locator('.requester-device'), /Chrome \d+ · Linux/);
    await shots(a.page, 'scan-login');
    await textMatches(c.page.getByRole('status').filter({ hasText: /Scanned/ }), /Confirm the login/);
    await a.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await textMatches(status(a.page), /is now signed in/);
    await c.page.waitForURL('**/me');
    await c.page.getByText(alice.nickname, { exact: true }).waitFor();
    assert.deepEqual(c.problems, []);
    await c.context.close();
  } else {
    t.diagnostic('the server has no /api/v1/login-qr: QR login not exercised');
  }

  // Block and unblock from a friend's page (blocking also ends the friendship).
  await tab(a.page, 'Contacts').click();
  await a.page.getByRole('link', { name: new RegExp(bob.nickname) }).click();
  await a.page.getByRole('button', { name: 'Block' }).click();
  await a.page.getByRole('group', { name: /^Block Bob Li\?/ }).getByRole('button', { name: 'Block' }).click();
  await textMatches(status(a.page), /Bob Li is blocked/);
  await a.page.goto(`${server.base}/contacts/blocked`);
  await a.page.getByRole('button', { name: 'Unblock: Bob Li' }).click();
  await textMatches(status(a.page), /Bob Li is unblocked/);
  await a.page.getByText('You have not blocked anyone.').waitFor();

  // Bob exports his data, then destroys his account.
  await tab(b.page, 'Me').click();
  await b.page.getByRole('link', { name: 'My data' }).click();
  // A rights request, confirmed with a step-up code.
  await b.page.getByLabel('Request', { exact: true }).selectOption('explanation');
  await b.page.getByLabel('Details').fill('How are my Moments pictures stored?');
  const since = sms.codes.length; // the server texts a code with the request
  await b.page.getByRole('button', { name: 'Send request' }).click();
  const rights = b.page.getByRole('list', { name: 'Your requests' });
  await rights.getByText('How are my Moments pictures stored?').waitFor();
  await rights.getByLabel('Verification code').fill(await codeFor(bob.phone, 'step_up', since));
  await rights.getByRole('button', { name: 'Verify' }).click();
  await rights.getByText('Identity verified').waitFor();
  await b.page.getByRole('button', { name: 'Request export' }).click();
  await b.page.getByText('Your export is ready.').waitFor({ timeout: 120_000 });
  const [download] = await Promise.all([b.page.waitForEvent('download'), b.page.getByRole('button', { name: 'Download export' }).click()]);
  assert.ok(fs.statSync(await download.path()).size > 0);
  await tab(b.page, 'Me').click();
  await b.page.getByRole('link', { name: 'Account and Security' }).click();
  await b.page.getByRole('link', { name: 'Destroy account' }).click();
  await b.page.getByLabel('Enter your password to confirm').fill(PASSWORD);
  await b.page.getByRole('button', { name: 'Destroy my account' }).click();
  await b.page.getByText('Your account has been destroyed.').waitFor();

  // Alice: Bob's old messages are now from a deleted account.
  await tab(a.page, 'Chats').click();
  const gone = a.page.locator('a.chat-row', { hasText: 'Deleted account' });
  await textMatches(gone, /Message from a deleted account/);
  await gone.click();
  await log(a.page).getByText('Message from a deleted account').first().waitFor();
  await a.page.getByText('This account was destroyed. You can read the conversation but not reply.').waitFor();
  const toTop = (what) =>
    until(
      what,
      async () => {
        await log(a.page).evaluate((el) => (el.scrollTop = 0));
        return (await log(a.page).getByText(what).count()) === 1;
      },
      30_000,
    );
  await toTop('This is the beginning of the conversation.');
  await toTop('Hello Bob!'); // Alice's own messages remain
  assert.equal(await log(a.page).getByText('Hi Alice, it is Bob').count(), 0, 'Bob’s text is gone');
  assert.ok((await log(a.page).getByText('Message from a deleted account').count()) >= 1);
  await shots(a.page, 'chat-deleted-account');

  assert.deepEqual([...a.problems, ...b.problems], [], 'no page errors or CSP violations');
  await a.context.close();
  await b.context.close();
});

test('accessibility: axe finds no WCAG 2.1 A/AA violations on chats, contacts, Moments and QR screens', { timeout: 300_000 }, async () => {
  const x = await apiRegister({ phone: '+8613600136001', username: 'axe_x', nickname: 'Axe X' });
  const y = await apiRegister({ phone: '+8613600136002', username: 'axe_y', nickname: 'Axe Y' });
  const req = await x.call('POST', '/api/v1/friend-requests', { to: y.user.id, greeting: 'hi' });
  await y.call('POST', `/api/v1/friend-requests/${req.id}/accept`);
  const conv = await y.call('POST', '/api/v1/conversations', { kind: 'direct', members: [x.user.id] });
  await y.call('POST', `/api/v1/conversations/${conv.id}/messages`, { client_id: 'a1', kind: 'text', text: 'Hello there' });
  await x.call('POST', `/api/v1/conversations/${conv.id}/messages`, { client_id: 'a2', kind: 'text', text: 'Hi!' });
  const group = await x.call('POST', '/api/v1/conversations', { kind: 'group', name: 'Axe group', members: [y.user.id] });
  const m = await y.call('POST', '/api/v1/moments', { text: 'A post to check', media_ids: [], visibility: { kind: 'friends', users: [] } });
  await x.call('POST', `/api/v1/moments/${m.id}/likes`);
  const cm = await x.call('POST', `/api/v1/moments/${m.id}/comments`, { text: 'Nice' });
  await y.call('POST', `/api/v1/moments/${m.id}/comments`, { text: 'Thanks', reply_to: cm.id });

  const found = [];
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 }, bypassCSP: true });
  context.setDefaultTimeout(15_000);
  await context.addInitScript((tok) => localStorage.setItem('tkesj.token', tok), x.token);
  const page = await context.newPage();
  const screens = [
    ['chats', '/chats', () => page.locator('a.chat-row').first().waitFor()],
    ['conversation', `/chats/${conv.id}`, () => page.getByRole('log').getByText('Hello there').waitFor()],
    ['chat info', `/chats/${conv.id}/info`, () => page.getByRole('heading', { name: /Members/ }).waitFor()],
    ['group info', `/chats/${group.id}/info`, () => page.getByLabel('Group name').waitFor()],
    ['contacts', '/contacts', () => page.getByRole('list', { name: /Friends/ }).waitFor()],
    ['contact', `/contacts/${y.user.id}`, () => page.getByLabel('Remark').waitFor()],
    ['add friend', '/contacts/add', () => page.getByLabel('Username or phone number').waitFor()],
    ['new group', '/contacts/new-group', () => page.getByLabel('Axe Y').waitFor()],
    ['blocked', '/contacts/blocked', () => page.getByText('You have not blocked anyone.').waitFor()],
    ['moments', '/moments', () => page.getByText('A post to check').waitFor()],
    ['compose', '/moments/new', () => page.getByLabel('What’s on your mind?').waitFor()],
    ['album', `/moments/user/${y.user.id}`, () => page.getByText('A post to check').waitFor()],
    ['privacy', '/me/privacy', () => page.getByRole('switch', { name: 'Find me by username' }).waitFor()],
    ['my qr', '/me/qr', () => page.getByRole('img', { name: /QR code to add/ }).waitFor()],
    ['scan login', '/me/scan', () => page.getByLabel('Login code').waitFor()],
  ];
  for (const [name, url, ready] of screens) {
    await page.goto(`${server.base}${url}`);
    await ready();
    await page.waitForLoadState('networkidle');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      found.push(...(await axeViolations(page, `${name} [${scheme}]`)));
    }
  }
  // Compose with "only these friends": the friend picker.
  await page.goto(`${server.base}/moments/new`);
  await page.getByLabel(/Only some friends/).check();
  await page.getByRole('group', { name: 'Friends who can see it' }).waitFor();
  found.push(...(await axeViolations(page, 'compose picker')));
  // The login screen's QR tab, signed out.
  const out = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 }, bypassCSP: true });
  const lp = await out.newPage();
  await lp.goto(`${server.base}/login`);
  await lp.getByRole('tab', { name: 'QR login' }).click();
  await lp.getByRole('img', { name: /Login QR code/ }).waitFor();
  for (const scheme of ['light', 'dark']) {
    await lp.emulateMedia({ colorScheme: scheme });
    found.push(...(await axeViolations(lp, `login qr [${scheme}]`)));
  }
  await out.close();
  await context.close();
  assert.deepEqual(found, []);
});

test('R-POL-1: a major policy update blocks with the new text until accepted', { timeout: 120_000 }, async (t) => {
  const p = await newPerson();
  await register(p.page, { phone: '+8613500135099', username: 'policy_e2e', nickname: 'Pat Policy', gender: 'unspecified' });
  await tab(p.page, 'Chats').click();
  await p.page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  const text = path.join(server.dir, 'policy-2.txt');
  fs.writeFileSync(text, 'Version two of the policy.\n\nWe now keep your personal information in a new place.');
  const res = spawnSync(process.env.TKESJ_BIN, ['admin', 'policy', 'publish', '--version', '2099-01', '--file', text, '--major', '--data', path.join(server.dir, 'data')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (res.status !== 0) {
    t.skip(`tkesj admin policy publish failed beside the running server: ${res.stderr || res.stdout}`);
    await p.context.close();
    return;
  }
  // The server trusts its view of the newest major version for a few seconds;
  // any call after that answers 409 and the dialog appears.
  const dialog = p.page.getByRole('dialog', { name: 'The privacy policy has changed' });
  await until(
    'the policy dialog',
    async () => {
      if (await dialog.isVisible()) return true;
      // The dialog may open at any moment and then covers the tab bar.
      await tab(p.page, 'Contacts').click({ timeout: 1000 }).catch(() => {});
      await p.page.waitForTimeout(500);
      await tab(p.page, 'Chats').click({ timeout: 1000 }).catch(() => {});
      await p.page.waitForTimeout(500);
      return dialog.isVisible();
    },
    30_000,
  );
  await dialog.getByText('We now keep your personal information in a new place.').waitFor();
  await shots(p.page, 'policy-update');
  await dialog.getByRole('button', { name: 'Accept and continue' }).click();
  await dialog.waitFor({ state: 'hidden' });
  // Calls work again: the screen behind reloads, and so does any other.
  await tab(p.page, 'Contacts').click();
  await p.page.getByText('No friends yet. Add one by username or phone number.').waitFor();
  await tab(p.page, 'Chats').click();
  await p.page.getByText('No chats yet').waitFor();
  assert.deepEqual(p.problems, []);
  await p.context.close();
});
