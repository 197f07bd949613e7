// The web client as a daily driver (issue 13, the chat half): each defect the
// issue lists is driven here as people would meet it, in two or three browser
// contexts, asserting what each sees. Set-up that is not what a test is about
// (accounts, friendships, history) goes through the API.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/daily.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  axeViolations,
  befriend,
  browser,
  codeFor,
  direct,
  log,
  newPerson,
  openChat,
  PASSWORD,
  people,
  pngBytes,
  send,
  server,
  SHOTS,
  signedIn as signedInAt,
  sms,
  startServer,
  status,
  stopOtherServer,
  tab,
  textMatches,
  until,
} from './harness.mjs';

const composer = (page) => page.getByLabel('Message', { exact: true });

/** A fresh person through the API, with a unique phone and username. */
const person = people('137013', 'day');

/** Two friends and their direct chat. */
async function pair(a = 'Ann', b = 'Ben') {
  const x = await person(a);
  const y = await person(b);
  await befriend(x, y);
  return { x, y, conv: await direct(x, y) };
}

/** A fresh person who is already x's friend. */
async function friendOf(x, name) {
  const y = await person(name);
  await befriend(x, y);
  return y;
}

/** A browser context signed in with the person's token, 390 px wide unless told. */
const signedIn = (who, o = {}) => signedInAt(who, { width: 390, height: 800, acceptDownloads: true, ...o });

/** Uploads bytes as `who` and answers the media id. */
async function uploadAs(who, bytes, name, type) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  const r = await fetch(`${server.base}/api/v1/media`, { method: 'POST', headers: { Authorization: `Bearer ${who.token}` }, body: form });
  assert.equal(r.status, 201, await r.clone().text());
  return (await r.json()).id;
}

/** A short real WebM video, recorded from a canvas in Chromium. */
async function webmBytes() {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const arr = await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 160;
    c.height = 120;
    document.body.append(c);
    const g = c.getContext('2d');
    const stream = c.captureStream(15);
    const rec = new MediaRecorder(stream, { mimeType: 'video/webm;codecs=vp8' });
    const chunks = [];
    rec.ondataavailable = (e) => chunks.push(e.data);
    const done = new Promise((r) => (rec.onstop = r));
    rec.start(100);
    for (let i = 0; i < 15; i++) {
      g.fillStyle = `hsl(${i * 24},70%,50%)`;
      g.fillRect(0, 0, 160, 120);
      await new Promise((r) => setTimeout(r, 60));
    }
    rec.stop();
    await done;
    return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
  });
  await ctx.close();
  return Buffer.from(arr);
}

/** Whether the conversation log is scrolled to its newest message. */
const atBottom = (page) => log(page).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 4);
const imagesLoaded = (page) =>
  log(page).evaluate((el) => [...el.querySelectorAll('img')].every((i) => i.complete && i.naturalWidth > 0) && el.querySelectorAll('.img-loading').length === 0);

test('defect 1: scan-to-log-in keeps polling until confirmed, and an expired code says so', { timeout: 120_000 }, async () => {
  const ann = await person('Ann QR');
  const a = await signedIn(ann);
  const c = await newPerson();
  let polls = 0;
  c.page.on('request', (r) => /\/api\/v1\/login-qr\/[^/]+\?poll_token=/.test(r.url()) && polls++);
  await c.page.goto(`${server.base}/login`);
  await c.page.getByRole('tab', { name: 'QR login' }).click();
  await c.page.getByRole('img', { name: /Login QR code/ }).waitFor();
  // The page keeps asking while nothing happens (it used to ask once and stop).
  await until('the login page to poll three times', async () => polls >= 3, 15_000);
  await c.page.getByText('Can’t scan?').click();
  const payload = (await c.page.locator('.qr-payload').textContent()).trim();
  await a.page.goto(`${server.base}/me/scan`);
  await a.page.getByLabel('Login code').fill(payload);
  await a.page.getByRole('button', { name: 'Continue' }).click();
  await textMatches(c.page.getByRole('status').filter({ hasText: /Scanned/ }), /Confirm the login/);
  const before = polls;
  await until('polling to go on after "scanned"', async () => polls >= before + 2, 15_000);
  await a.page.getByRole('button', { name: 'Log in', exact: true }).click();
  await c.page.waitForURL('**/me', { timeout: 15_000 });
  await c.page.getByText('Ann QR', { exact: true }).waitFor();

  // A code nobody scans expires after two minutes: the page says so and offers a new one.
  const d = await newPerson();
  await d.page.clock.install();
  await d.page.goto(`${server.base}/login`);
  await d.page.getByRole('tab', { name: 'QR login' }).click();
  await d.page.getByRole('img', { name: /Login QR code/ }).waitFor();
  await d.page.clock.fastForward('02:30');
  await d.page.clock.runFor(3000);
  await textMatches(d.page.getByRole('status').filter({ hasText: /\S/ }), /This code has expired/);
  await d.page.getByRole('button', { name: 'New code' }).waitFor();
  assert.deepEqual([...a.problems, ...c.problems, ...d.problems], []);
  for (const x of [a, c, d]) await x.context.close();
});

test('defect 2: a password login from a new device on a new network asks for the texted code, in plain words', { timeout: 120_000 }, async () => {
  // This test's own server listens on IPv6 too, so the browser can come from
  // ::1: a network the account (made over IPv4, from 127.0.0.1) never used.
  const other = await startServer({ listen: '[::]' });
  const port = new URL(other.base).port;
  try {
    const since = sms.codes.length;
    // The account is made from 127.0.0.1 (its known network) through the API.
    const reg = async (u) => {
      const post = (p, body) => fetch(`${other.base}${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      await post('/api/v1/verification-codes', { phone: u.phone, purpose: 'register' });
      const code = await codeFor(u.phone, 'register', since);
      const policy = await (await fetch(`${other.base}/api/v1/policy`)).json();
      const r = await post('/api/v1/accounts', { ...u, code, password: PASSWORD, gender: 'unspecified', policy_version: policy.version, device: { id: 'api-sam', model: 'node', os: 'Linux', app_version: 'e2e' } });
      assert.equal(r.status, 201, await r.clone().text());
      return r.json();
    };
    const sam = await reg({ phone: '+8613701399001', username: 'sam_stepup', nickname: 'Sam Step' });

    // Sam's first browser is signed in (on the known network) and watches.
    const first = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 800 } });
    await first.addInitScript((tok) => localStorage.setItem('tkesj.token', tok), sam.token);
    const fp = await first.newPage();
    await fp.goto(`${other.base}/chats`);
    await fp.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();

    const p = await newPerson();
    const base2 = `http://[::1]:${port}`;
    await p.page.goto(`${base2}/login`);
    await p.page.getByLabel('Username or phone number').fill('sam_stepup');
    await p.page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
    const codesBefore = sms.codes.length;
    await p.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await textMatches(status(p.page), /device and a network this account has not used before/);
    const body = await p.page.locator('main').textContent();
    assert.doesNotMatch(body, /step_up|step-up/i, 'no API jargon on the screen');
    const codeField = p.page.getByLabel('Code from the text message');
    await codeField.waitFor();
    // A wrong code is refused in plain words, then the right one signs in.
    await codeField.fill('000000');
    await p.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await textMatches(p.page.getByRole('alert').filter({ hasText: /\S/ }), /code is not right/);
    await codeField.fill(await codeFor('+8613701399001', 'step_up', codesBefore));
    await p.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await p.page.waitForURL('**/me');
    await p.page.getByText('Sam Step', { exact: true }).waitFor();

    // The first browser is told of the new login at once.
    await textMatches(fp.getByRole('alert').filter({ hasText: /New login/ }), /New login to your account: Chrome \d+ · Linux/);
    await fp.getByRole('link', { name: 'Review devices' }).click();
    await fp.getByRole('heading', { name: 'Account and Security', level: 1 }).waitFor();
    assert.deepEqual(p.problems, []);
    await p.context.close();
    await first.close();
  } finally {
    await stopOtherServer(other);
  }
});

test('defect 3: an open chat follows new messages while pictures load late; a "new messages" line and button; no badge for the open chat', { timeout: 150_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Scroll', 'Ben Scroll');
  const png = await pngBytes(320, 480);
  for (let i = 0; i < 20; i++) await send(ben, conv, `history ${i}`);
  for (let i = 0; i < 2; i++) await ben.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: `pic-${i}`, kind: 'image', media_id: await uploadAs(ben, png, 'p.png', 'image/png') });
  await send(ben, conv, 'the newest before opening');

  const a = await signedIn(ann);
  // Pictures arrive late, as on a slow phone network.
  await a.context.route('**/api/v1/media/**', async (route) => {
    await new Promise((r) => setTimeout(r, 1200));
    await route.continue();
  });
  // Record every unread badge the tab bar ever shows.
  await a.context.addInitScript(() => {
    window.__badges = [];
    new MutationObserver(() => {
      const b = document.querySelector('.tab-badge');
      if (b) window.__badges.push(b.textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await openChat(a.page, conv);
  await log(a.page).getByText('the newest before opening').waitFor();
  await until('the pictures to load', () => imagesLoaded(a.page));
  await until('the view to rest at the newest message once the pictures are in', () => atBottom(a.page), 5000);

  // A new picture and a text while Ann reads: she stays at the bottom.
  await ben.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'pic-late', kind: 'image', media_id: await uploadAs(ben, png, 'q.png', 'image/png') });
  await send(ben, conv, 'after the late picture');
  await log(a.page).getByText('after the late picture').waitFor();
  await until('the new picture to load', () => imagesLoaded(a.page));
  await until('the newest message to be in view', () => atBottom(a.page), 5000);
  assert.deepEqual(await a.page.evaluate(() => window.__badges), [], 'no unread badge while the chat is open');

  // Scrolled up, a new message does not move the view; a button says it came.
  // Scrolled with the wheel, as a person does, until the view rests away
  // from the bottom. (A row that resizes between a scroll and its event
  // can pull the view back down once: CI met that with a programmatic
  // scrollTop = 0; the app's follow-the-bottom rule is in WindowedList.)
  await log(a.page).hover();
  await until('the view to leave the bottom and stay away', async () => {
    if (await atBottom(a.page)) {
      await a.page.mouse.wheel(0, -5000);
      return false;
    }
    await a.page.waitForTimeout(300);
    return !(await atBottom(a.page));
  });
  await send(ben, conv, 'while you scrolled up');
  const jump = a.page.getByRole('button', { name: /1 new message/ });
  await jump.waitFor();
  assert.equal(await atBottom(a.page), false, 'the reader’s place is kept');
  await jump.click();
  await until('the jump to the newest message', () => atBottom(a.page), 5000);
  await jump.waitFor({ state: 'hidden' });

  // Away from the chat, two messages arrive; opening it again shows the "New messages" line above them.
  await tab(a.page, 'Contacts').click();
  await a.page.getByRole('heading', { name: 'Contacts', level: 1 }).waitFor();
  await send(ben, conv, 'unread one');
  await send(ben, conv, 'unread two');
  await textMatches(a.page.locator('.tab-badge'), /^2$/);
  await tab(a.page, 'Chats').click();
  await a.page.locator('a.chat-row', { hasText: 'Ben Scroll' }).click();
  await log(a.page).getByText('unread two').waitFor();
  const line = log(a.page).getByRole('separator', { name: 'New messages' });
  await line.waitFor();
  const next = await line.evaluate((el) => el.parentElement.textContent);
  assert.match(next, /New messages.*unread one/s, 'the line sits above the first unread message');
  await until('the badge to go once read', async () => (await a.page.locator('.tab-badge').count()) === 0);
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('the chat list keeps up with a busy chat: a message shows in its row from its frame alone, and a busy chat does not hold back the list', { timeout: 120_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Busy', 'Ben Busy');
  const cat = await friendOf(ann, 'Cat Busy');
  const group = (await cat.call('POST', '/api/v1/conversations', { kind: 'group', name: 'Quiet team', members: [ann.user.id] })).id;
  await send(ben, conv, 'an old one');
  await send(cat, group, 'the newest chat first');

  const a = await signedIn(ann);
  await a.page.goto(`${server.base}/chats`);
  const rows = a.page.locator('a.chat-row');
  await textMatches(rows.first(), /Quiet team/);
  const benRow = rows.filter({ hasText: 'Ben Busy' });
  await textMatches(benRow, /an old one/);

  // The list is not reloaded (its requests hang): Ben's message still
  // shows in his row, counted unread (two now), and his chat moves to the top.
  let hold = true;
  await a.context.route('**/api/v1/conversations', async (route) => {
    if (hold && route.request().method() === 'GET') await new Promise((r) => setTimeout(r, 8000));
    await route.continue().catch(() => {});
  });
  await send(ben, conv, 'straight from the frame');
  await textMatches(benRow, /straight from the frame/, 5000);
  await textMatches(benRow.locator('.unread-badge'), /^2$/, 5000);
  await textMatches(rows.first(), /Ben Busy/, 5000);
  hold = false;

  // Ben writes every 100 ms for 4 s; a second in, Cat renames the group.
  // The list shows the new name while Ben is still writing (a refresh that
  // every message put off again came only once he stopped).
  let writing = true;
  const stream = (async () => {
    for (let i = 0; i < 40; i++) {
      await send(ben, conv, `busy ${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    writing = false;
  })();
  try {
    await new Promise((r) => setTimeout(r, 1000));
    await cat.call('PATCH', `/api/v1/conversations/${group}`, { name: 'Renamed team' });
    await rows.filter({ hasText: 'Renamed team' }).waitFor({ timeout: 2500 });
    assert.equal(writing, true, 'the rename showed while Ben was still writing');
  } finally {
    await stream;
  }
  await textMatches(benRow, /busy 39/);
  await textMatches(benRow.locator('.unread-badge'), /^42$/);
  // Ann answers from her phone: this tab's row shows it, read (the server
  // marks a sender's own message read), with no badge.
  await send(ann, conv, 'from my phone');
  await textMatches(benRow, /from my phone/);
  await until('the badge to go', async () => (await benRow.locator('.unread-badge').count()) === 0, 5000);
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('desktop, 中文: the chat open beside the list gets no badge while messages come, and none once left; another chat counts them', { timeout: 120_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Pane', 'Ben Pane');
  const cat = await friendOf(ann, 'Cat Pane');
  const other = await direct(ann, cat);
  await send(cat, other, '早上好');
  const a = await signedIn(ann, { width: 1280, height: 800, locale: 'zh-CN', lang: 'zh' });
  await openChat(a.page, conv);
  const rows = a.page.locator('a.chat-row');
  const benRow = rows.filter({ hasText: 'Ben Pane' });
  const catRow = rows.filter({ hasText: 'Cat Pane' });
  await textMatches(catRow.locator('.unread-badge'), /^1$/);
  for (const text of ['一', '二', '三']) await send(ben, conv, `消息${text}`);
  await send(cat, other, '在吗？');
  await log(a.page).getByText('消息三').waitFor();
  await textMatches(benRow, /消息三/);
  await textMatches(catRow, /在吗？/);
  await textMatches(catRow.locator('.unread-badge'), /^2$/);
  assert.equal(await benRow.locator('.unread-badge').count(), 0, 'no badge for the open chat');
  // Leaving the chat (the list stays, the pane empties): still none for it.
  await catRow.click();
  await log(a.page).getByText('在吗？').waitFor();
  await a.page.waitForTimeout(800); // a refresh's time: a badge that came back would show by now
  assert.equal(await benRow.locator('.unread-badge').count(), 0, 'the chat read beside the list stays read');
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('issue 17, R-MSG-3: with the socket open a message goes over it as a send frame, with its client_id, and shows once for both', { timeout: 90_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Socket', 'Ben Socket');
  const a = await signedIn(ann);
  const b = await signedIn(ben);
  await openChat(a.page, conv);
  await openChat(b.page, conv);
  // Ann's socket is open once a message reaches her page through it.
  await send(ben, conv, 'are you there?');
  await log(a.page).getByText('are you there?').waitFor();

  const lines = () => fs.readFileSync(server.log, 'utf8').split('\n').filter((l) => l.includes('"route":"POST /api/v1/conversations/{id}/messages"'));
  const before = lines().length;
  await composer(a.page).fill('sent over the socket');
  await composer(a.page).press('Enter');
  await log(b.page).getByText('sent over the socket').waitFor();
  await log(a.page).locator('.msg.mine', { hasText: 'sent over the socket' }).waitFor();
  await until('the outbox row to go', async () => (await log(a.page).locator('[data-outbox]').count()) === 0);
  await until('the access log line', async () => lines().length > before);
  const sends = lines().slice(before).map((l) => JSON.parse(l));
  assert.deepEqual(sends.map((l) => [l.method, l.status]), [['WS', 201]], 'one send, over the socket, stored');
  const msgs = (await ben.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0`)).messages.filter((m) => m.text === 'sent over the socket');
  assert.equal(msgs.length, 1);
  assert.match(msgs[0].client_id, /\S/, 'the outbox client_id travels in the frame');
  await b.page.waitForTimeout(300);
  assert.equal(await log(b.page).getByText('sent over the socket').count(), 1);
  assert.equal(await log(a.page).getByText('sent over the socket').count(), 1);
  assert.deepEqual([...a.problems, ...b.problems], []);
  await a.context.close();
  await b.context.close();
});

test('issue 17: a long outbox flushed after going offline arrives once, each message, the socket staying open past its frame rate', { timeout: 120_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Backlog', 'Ben Backlog');
  const a = await signedIn(ann);
  await openChat(a.page, conv);
  await send(ben, conv, 'before the tunnel');
  await log(a.page).getByText('before the tunnel').waitFor();
  await a.context.setOffline(true);
  const n = 45; // more than the socket's burst of 40 frames
  for (let i = 1; i <= n; i++) {
    await composer(a.page).fill(`backlog ${i}`);
    await composer(a.page).press('Enter');
  }
  // The log shows the newest rows only; the last one waiting means all were queued.
  await textMatches(log(a.page).locator('[data-outbox]', { hasText: `backlog ${n}` }), /Waiting for a connection/);
  const before = fs.readFileSync(server.log, 'utf8').length;
  await a.context.setOffline(false);
  await until('the outbox to empty', async () => (await log(a.page).locator('[data-outbox]').count()) === 0, 60_000);
  const msgs = (await ben.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0&limit=100`)).messages;
  for (let i = 1; i <= n; i++) assert.equal(msgs.filter((m) => m.text === `backlog ${i}`).length, 1, `backlog ${i} arrived once`);
  const closed = fs
    .readFileSync(server.log, 'utf8')
    .slice(before)
    .split('\n')
    .filter((l) => l.includes('closing a connection over the rate limit'));
  assert.deepEqual(closed, [], 'the socket was not closed for its frame rate');
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('issue 17, R-MSG-3: a send the server answers busy (429, then 503, over the socket) goes again by itself after a pause, over the socket, in order, and shows sent', { timeout: 90_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Busy', 'Ben Busy');
  const a = await signedIn(ann);
  // The socket stays open; its first two send frames are answered as an
  // overloaded server would: 429 with a retry hint of a second, then 503.
  let wsRefused = 0;
  const sendFrames = [];
  await a.page.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
    const srv = ws.connectToServer();
    ws.onMessage((frame) => {
      const f = typeof frame === 'string' && frame.startsWith('{') ? JSON.parse(frame) : null;
      if (f?.type === 'send') sendFrames.push(Date.now());
      if (f?.type === 'send' && wsRefused < 2) {
        wsRefused++;
        const p = wsRefused === 1 ? { status: 429, code: 'rate_limited', detail: 'Too many requests.' } : { status: 503, code: 'unavailable', detail: 'Try again shortly.' };
        ws.send(JSON.stringify({ type: 'error', id: f.id, code: p.code, detail: p.detail, error: { type: `urn:tkesj:problem:${p.code}`, title: 'busy', ...p }, ...(wsRefused === 1 ? { retry_after: 1 } : {}) }));
        return;
      }
      srv.send(frame);
    });
    srv.onMessage((frame) => ws.send(frame));
  });
  // A busy answer on the socket is not followed by the same request over
  // HTTP at once (it was: two requests to a server that had just said it
  // could take none); the message waits and goes again over the socket.
  const httpPosts = [];
  a.page.on('request', (r) => r.method() === 'POST' && new RegExp(`/api/v1/conversations/${conv}/messages(\\?|$)`).test(r.url()) && httpPosts.push(Date.now()));
  await openChat(a.page, conv);
  await send(ben, conv, 'are you busy?');
  await log(a.page).getByText('are you busy?').waitFor();
  // Past the app shell's start-up flush (3 s after load), which would
  // otherwise send again by chance: only the retry timer is left to do it.
  await a.page.waitForTimeout(3_500);

  await composer(a.page).fill('first, though the server is busy');
  await composer(a.page).press('Enter');
  await until('the first refusal', () => wsRefused === 1);
  // The connection is fine: the row says the server is busy and it goes by
  // itself, not that it waits for a connection (nor "Sending…" for a minute).
  await textMatches(log(a.page).locator('[data-outbox]', { hasText: 'first, though' }), /The server is busy… it will be sent by itself shortly/);
  await composer(a.page).fill('second, written after');
  await composer(a.page).press('Enter');
  await until('the outbox to empty with no one touching anything', async () => (await log(a.page).locator('[data-outbox]').count()) === 0, 30_000);
  assert.equal(wsRefused, 2, 'each refusal was met');
  assert.deepEqual(httpPosts, [], 'nothing went over HTTP: the socket was open all along');
  // Each try after a refusal waited (the first for the server's hint of a
  // second, the second for the outbox's backoff, 1 s ± 20 %).
  assert.ok(sendFrames.length >= 3, `send frames: ${sendFrames.length}`);
  assert.ok(sendFrames[1] - sendFrames[0] >= 900, `after the 429: ${sendFrames[1] - sendFrames[0]} ms`);
  assert.ok(sendFrames[2] - sendFrames[1] >= 700, `after the 503: ${sendFrames[2] - sendFrames[1]} ms`);
  await log(a.page).locator('.msg.mine', { hasText: 'first, though the server is busy' }).waitFor();
  await log(a.page).locator('.msg.mine', { hasText: 'second, written after' }).waitFor();
  const msgs = (await ben.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0`)).messages.filter((m) => m.sender_id === ann.user.id);
  assert.deepEqual(msgs.map((m) => m.text), ['first, though the server is busy', 'second, written after'], 'once each, in the order written');
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('issue 17: a tab whose send fails after another tab delivered the message does not put it back to send again', { timeout: 90_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Tabs', 'Ben Tabs');
  const a = await signedIn(ann);
  // Tab 1's socket holds its send of the message: no answer until told.
  const sends = [];
  await a.page.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
    const srv = ws.connectToServer();
    ws.onMessage((frame) => {
      const f = typeof frame === 'string' && frame.startsWith('{') ? JSON.parse(frame) : null;
      if (f?.type === 'send' && f.text === 'raced between tabs') {
        sends.push({ ws, id: f.id });
        if (sends.length === 1) return;
      }
      srv.send(frame);
    });
    srv.onMessage((frame) => ws.send(frame));
  });
  await openChat(a.page, conv);
  await send(ben, conv, 'two tabs?');
  await log(a.page).getByText('two tabs?').waitFor();
  await a.page.waitForTimeout(3_500); // past the start-up flush
  await composer(a.page).fill('raced between tabs');
  await composer(a.page).press('Enter');
  await until('tab 1 to send it', () => sends.length === 1);
  // Tab 2 opens and delivers it from the shared outbox.
  const a2 = await a.context.newPage();
  a2.on('pageerror', (e) => a.problems.push(`pageerror (tab 2): ${e.message}`));
  await openChat(a2, conv);
  await log(a2).locator('.msg.mine', { hasText: 'raced between tabs' }).waitFor();
  await until('the outbox to empty', async () => (await log(a2).locator('[data-outbox]').count()) === 0);
  // Only now does tab 1 hear that the server was busy.
  sends[0].ws.send(JSON.stringify({ type: 'error', id: sends[0].id, code: 'rate_limited', detail: 'Too many requests.', error: { type: 'urn:tkesj:problem:rate_limited', title: 'busy', status: 429, code: 'rate_limited', detail: 'Too many requests.' }, retry_after: 1 }));
  await a.page.waitForTimeout(4_000);
  assert.equal(sends.length, 1, 'tab 1 did not send it again');
  assert.equal((await ben.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0`)).messages.filter((m) => m.text === 'raced between tabs').length, 1);
  for (const p of [a.page, a2]) assert.equal(await log(p).locator('[data-outbox]').count(), 0);
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('defect 4: an outbox that survives going offline, closing the tab and failures; a PDF from the picture button goes as a file', { timeout: 150_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Outbox', 'Ben Outbox');
  const a = await signedIn(ann);
  const b = await signedIn(ben);
  await openChat(a.page, conv);
  await openChat(b.page, conv);

  // Offline: the message waits, visibly, and the tab is closed before the network is back.
  await a.context.setOffline(true);
  await composer(a.page).fill('written on the train');
  await composer(a.page).press('Enter');
  const waiting = log(a.page).locator('[data-outbox]', { hasText: 'written on the train' });
  await textMatches(waiting, /Waiting for a connection/);
  await a.page.close();
  await a.context.setOffline(false);
  // Reopened later, the tab sends it (once) with its original client_id.
  a.page = await a.context.newPage();
  await openChat(a.page, conv);
  await log(b.page).getByText('written on the train').waitFor();
  await log(a.page).locator('.msg.mine', { hasText: 'written on the train' }).waitFor();
  await until('the outbox row to go', async () => (await log(a.page).locator('[data-outbox]').count()) === 0);
  const msgs = (await ben.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0`)).messages;
  assert.equal(msgs.filter((m) => m.text === 'written on the train').length, 1, 'sent exactly once');

  // Offline and back, with a second tab of Ann's open on the same chat: both
  // show the waiting message, both may send it when the connection returns,
  // and it arrives once.
  const a2 = await a.context.newPage();
  a2.on('pageerror', (e) => a.problems.push(`pageerror (tab 2): ${e.message}`));
  await openChat(a2, conv);
  await a.context.setOffline(true);
  await composer(a.page).fill('second try offline');
  await composer(a.page).press('Enter');
  await textMatches(log(a.page).locator('[data-outbox]', { hasText: 'second try offline' }), /Waiting for a connection/);
  await textMatches(log(a2).locator('[data-outbox]', { hasText: 'second try offline' }), /Waiting for a connection/);
  await a.context.setOffline(false);
  await log(b.page).getByText('second try offline').waitFor({ timeout: 40_000 });
  for (const p of [a.page, a2]) {
    await until('the outbox to empty', async () => (await log(p).locator('[data-outbox]').count()) === 0, 40_000);
    await log(p).locator('.msg.mine', { hasText: 'second try offline' }).waitFor();
  }
  await b.page.waitForTimeout(300);
  assert.equal(await log(b.page).getByText('second try offline').count(), 1);
  assert.equal((await ben.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0`)).messages.filter((m) => m.text === 'second try offline').length, 1);
  await a2.close();

  // A send the server refuses fails visibly and can be discarded, for good.
  await a.page.locator('.composer-tools input[type=file]:not([accept])').setInputFiles({ name: 'run.sh', mimeType: 'text/x-sh', buffer: Buffer.from('#!/bin/sh\necho hi\n') });
  const failed = log(a.page).locator('[data-outbox=failed]');
  await textMatches(failed, /programs and scripts can.t be sent/);
  await failed.getByRole('button', { name: 'Discard' }).click();
  await failed.waitFor({ state: 'detached' });
  await a.page.reload();
  await log(a.page).getByText('second try offline').waitFor();
  assert.equal(await log(a.page).locator('[data-outbox]').count(), 0, 'a discarded message stays gone');

  // A PDF chosen with the picture button: said plainly, and sent as a file.
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  await a.page.locator('input[type=file][accept^="image/"]').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf });
  await textMatches(status(a.page), /“report\.pdf” is not a picture or a video, so it is sent as a file/);
  await log(b.page).locator('[data-kind=file]', { hasText: 'report.pdf' }).waitFor();
  assert.deepEqual([...a.problems, ...b.problems], []);
  await a.context.close();
  await b.context.close();
});

// Defect 4's two-tab step failed now and then (one tab never showed the
// message its sibling sent): a tab that comes back online reconnects at once
// and pulls what it missed through the service worker, which, when its own
// fetch fails (its network not back yet), answers with the copy it kept of
// the same pull, an older and emptier one. Taken for the server's answer,
// the missed message never showed. Here that fetch fails once, on purpose.
test('issue 17, R-MSG-4: a catch-up pull is not answered from the offline copy; a failed one is tried again while the socket stays open', { timeout: 120_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Catchup', 'Ben Catchup');
  await send(ben, conv, 'before the trip');
  const a = await signedIn(ann);
  await openChat(a.page, conv);
  await log(a.page).getByText('before the trip').waitFor();
  // The service worker controls the tab (it claims it once active).
  await until('the service worker to control the tab', () => a.page.evaluate(() => !!navigator.serviceWorker?.controller));
  const kept = (after) =>
    a.page.evaluate(async (q) => (await (await caches.open('tkesj-api')).keys()).some((r) => r.url.includes(q)), `/messages?after_seq=${after}&`);

  // Offline and back once: the catch-up pull after seq 1 finds nothing new,
  // and the service worker keeps that answer.
  await a.context.setOffline(true);
  await a.context.setOffline(false);
  await until('the empty catch-up answer to be kept', () => kept(1));

  // Ben writes while Ann is offline; when she is back, the service worker's
  // fetch of her catch-up pull fails once.
  let failed = 0;
  await a.context.route(/\/messages\?after_seq=1&/, (route) => {
    if (failed++ === 0 && route.request().serviceWorker()) return route.abort('internetdisconnected');
    return route.continue();
  });
  await a.context.setOffline(true);
  await send(ben, conv, 'written while Ann was away');
  await a.context.setOffline(false);
  await log(a.page).getByText('written while Ann was away').waitFor({ timeout: 20_000 });
  assert.ok(failed >= 2, `the failed pull was tried again (${failed} tries)`);
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

// The same step's other way to miss the sibling's message: a chat whose
// first page failed is held by nothing in the tab, so no catch-up pulls it.
test('issue 17, R-MSG-4: a chat whose first page failed to load loads once the connection is back, with what was sent meanwhile', { timeout: 120_000 }, async () => {
  const { x: ann, conv } = await pair('Ann Firstpage', 'Ben Firstpage');
  // Ann's own messages (from her phone): nothing in the chat waits for her
  // acknowledgement, so the ready frame does not name it.
  await send(ann, conv, 'from my phone, earlier');
  const a = await signedIn(ann);
  let failed = 0;
  await a.context.route(/\/messages\?before_seq=/, (route) => (failed++ === 0 ? route.abort('internetdisconnected') : route.continue()));
  await openChat(a.page, conv);
  await textMatches(a.page.getByRole('alert'), /\S/);
  assert.equal(failed, 1);

  await a.context.setOffline(true);
  await send(ann, conv, 'from my phone, while the tab was offline');
  await a.context.setOffline(false);
  await log(a.page).locator('.msg.mine', { hasText: 'while the tab was offline' }).waitFor({ timeout: 20_000 });
  await log(a.page).locator('.msg.mine', { hasText: 'from my phone, earlier' }).waitFor();
  await until('the error to clear', async () => (await a.page.getByRole('alert').filter({ hasText: /\S/ }).count()) === 0);
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('defect 5: multi-line composer, the 5,000-character limit with a counter, safe links, dir=auto, drafts per chat', { timeout: 120_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Text', 'Ben Text');
  const a = await signedIn(ann);
  const b = await signedIn(ben);
  await openChat(a.page, conv);
  await openChat(b.page, conv);

  // Shift+Enter breaks the line; Enter sends.
  await composer(a.page).click();
  await composer(a.page).pressSequentially('line one');
  await composer(a.page).press('Shift+Enter');
  await composer(a.page).pressSequentially('line two');
  await composer(a.page).press('Enter');
  const two = log(b.page).locator('.bubble', { hasText: 'line one' });
  await two.waitFor();
  assert.equal((await two.innerText()).trim(), 'line one\nline two');
  assert.equal(await composer(a.page).inputValue(), '', 'the composer empties after sending');

  // Over the server's limit (5,000 characters): refused with a counter, not cut.
  const long = 'x'.repeat(4999) + '🙂' + 'y';
  await composer(a.page).fill(long);
  await textMatches(a.page.locator('#composer-hint'), /Too long to send: 5,001 of at most 5,000 characters/);
  assert.equal(await a.page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true);
  await composer(a.page).press('Enter');
  assert.equal(await composer(a.page).inputValue(), long, 'nothing was cut or sent');
  await composer(a.page).press('Backspace');
  await textMatches(a.page.locator('#composer-hint'), /5,000 \/ 5,000 characters/);
  await composer(a.page).press('Enter');
  const full = log(b.page).locator('.bubble', { hasText: '🙂' });
  await full.waitFor();
  assert.equal((await full.innerText()).trim(), 'x'.repeat(4999) + '🙂', 'the whole message arrived');

  // Links: http(s) only, opening safely; other schemes stay text.
  await composer(a.page).fill('see https://example.com/a?b=1. and javascript:alert(1) or ftp://x.org');
  await composer(a.page).press('Enter');
  const bubble = log(b.page).locator('.bubble', { hasText: 'see ' });
  await bubble.waitFor();
  const links = bubble.getByRole('link');
  assert.equal(await links.count(), 1);
  assert.equal(await links.getAttribute('href'), 'https://example.com/a?b=1');
  assert.match(await links.getAttribute('rel'), /noopener/);
  assert.equal(await links.getAttribute('target'), '_blank');

  // Right-to-left text lays itself out: bubbles carry dir="auto".
  await composer(a.page).fill('مرحبا بالعالم');
  await composer(a.page).press('Enter');
  const rtl = log(b.page).locator('.bubble', { hasText: 'مرحبا' });
  await rtl.waitFor();
  assert.equal(await rtl.getAttribute('dir'), 'auto');
  assert.equal(await rtl.evaluate((el) => getComputedStyle(el.querySelector('.text')).direction), 'rtl');

  // A draft stays with its chat when Ann leaves it, and over a reload.
  await composer(a.page).fill('half-written thought');
  await tab(a.page, 'Moments').click();
  await tab(a.page, 'Chats').click();
  await a.page.locator('a.chat-row', { hasText: 'Ben Text' }).click();
  await log(a.page).waitFor();
  assert.equal(await composer(a.page).inputValue(), 'half-written thought');
  await a.page.reload();
  await log(a.page).waitFor();
  assert.equal(await composer(a.page).inputValue(), 'half-written thought');
  assert.deepEqual([...a.problems, ...b.problems], []);
  await a.context.close();
  await b.context.close();
});

test('defect 6: when the other person destroys their account, the open chat changes at once and the composer says why', { timeout: 90_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Stays', 'Ben Leaves');
  await send(ben, conv, 'my last words');
  const a = await signedIn(ann);
  await openChat(a.page, conv);
  await log(a.page).getByText('my last words').waitFor();
  await composer(a.page).waitFor();
  await ben.call('DELETE', '/api/v1/me', { password: PASSWORD });
  await a.page.getByText('This account was destroyed. You can read the conversation but not reply.').waitFor({ timeout: 10_000 });
  await a.page.getByRole('heading', { name: 'Deleted account', level: 1 }).waitFor();
  await log(a.page).getByText('Message from a deleted account').waitFor();
  assert.equal(await log(a.page).getByText('my last words').count(), 0);
  assert.equal(await composer(a.page).count(), 0, 'no composer to type into');
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('a message whose frame never came (its node died between storing and publishing it) shows once the next one reveals the gap (R-MSG-2)', { timeout: 90_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Gap', 'Ben Gap');
  await send(ben, conv, 'before the gap');
  const a = await signedIn(ann);
  // The socket between Ann's tab and the server loses one frame: the one
  // carrying "lost on the way", as when a node is killed after its commit.
  let dropped = 0;
  await a.page.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
    const srv = ws.connectToServer();
    srv.onMessage((frame) => {
      if (typeof frame === 'string' && frame.includes('lost on the way')) {
        dropped++;
        return;
      }
      ws.send(frame);
    });
    ws.onMessage((frame) => srv.send(frame));
  });
  await openChat(a.page, conv);
  await log(a.page).getByText('before the gap').waitFor();
  await send(ben, conv, 'lost on the way');
  await until('the frame to drop was sent', () => dropped === 1);
  await send(ben, conv, 'after the gap');
  await log(a.page).getByText('after the gap').waitFor();
  await log(a.page).getByText('lost on the way').waitFor({ timeout: 5_000 });
  const texts = await log(a.page).getByText(/before the gap|lost on the way|after the gap/).allTextContents();
  assert.deepEqual(texts, ['before the gap', 'lost on the way', 'after the gap'], 'in order, once each');
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('desktop: two panes from 900 px with avatars, search, date lines, a picture and video viewer; the phone keeps one column', { timeout: 180_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Wide', 'Ben Wide');
  const cara = await person('Cara Wide');
  await befriend(ann, cara);
  const conv2 = (await ann.call('POST', '/api/v1/conversations', { kind: 'direct', members: [cara.user.id] })).id;
  await send(cara, conv2, 'hello from Cara');
  // Ben has a real profile photo.
  const form = new FormData();
  form.append('file', new Blob([await pngBytes(96, 96, '#c33')], { type: 'image/png' }), 'me.png');
  const r = await fetch(`${server.base}/api/v1/me/avatar`, { method: 'PUT', headers: { Authorization: `Bearer ${ben.token}` }, body: form });
  assert.equal(r.status, 200, await r.clone().text());
  await send(ben, conv, 'Good morning, Ann');
  await ben.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'wide-pic', kind: 'image', media_id: await uploadAs(ben, await pngBytes(400, 300), 'v.png', 'image/png') });

  const a = await signedIn(ann, { width: 1280, height: 800 });
  const b = await signedIn(ben, { width: 1280, height: 800 });
  await a.page.goto(`${server.base}/chats`);
  const list = a.page.getByRole('list', { name: 'Chats' });
  await list.locator('a.chat-row', { hasText: 'Ben Wide' }).waitFor();
  await a.page.getByText('Pick a chat on the left to read and reply.').waitFor();
  // Ben's row shows his photo, Cara's her initial.
  const benRow = list.locator('a.chat-row', { hasText: 'Ben Wide' });
  await until('Ben’s photo', () => benRow.locator('img.avatar').evaluate((i) => i.complete && i.naturalWidth > 0).catch(() => false));
  await textMatches(list.locator('a.chat-row', { hasText: 'Cara Wide' }).locator('.avatar'), /^C$/);
  // The search box narrows the list as Ann types.
  await a.page.getByLabel('Search chats and contacts').fill('cara');
  await until('the list to narrow', async () => (await list.locator('a.chat-row').count()) === 1);
  await a.page.getByLabel('Search chats and contacts').fill('');
  await benRow.click();
  // The chat opens beside the list; the list stays.
  await a.page.getByRole('heading', { name: 'Ben Wide', level: 1 }).waitFor();
  await log(a.page).getByText('Good morning, Ann').waitFor();
  assert.equal(await a.page.getByRole('list', { name: 'Chats' }).isVisible(), true, 'the list stays beside the chat');
  await log(a.page).getByRole('separator', { name: 'Today' }).waitFor();
  await a.page.getByRole('list', { name: 'Chats' }).locator('a.chat-row', { hasText: 'Cara Wide' }).click();
  await log(a.page).getByText('hello from Cara').waitFor();
  await a.page.getByRole('list', { name: 'Chats' }).locator('a.chat-row', { hasText: 'Ben Wide' }).click();
  await log(a.page).getByText('Good morning, Ann').waitFor();

  // The picture viewer: opens from the keyboard, Esc closes it and focus comes back.
  const open = log(a.page).getByRole('button', { name: 'Open picture' });
  await open.focus();
  await a.page.keyboard.press('Enter');
  const viewer = a.page.getByRole('dialog', { name: 'Picture' });
  await viewer.waitFor();
  await until('the full picture', () => viewer.locator('img').evaluate((i) => i.complete && i.naturalWidth === 400).catch(() => false));
  await a.page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'detached' });
  assert.equal(await open.evaluate((el) => el === document.activeElement), true, 'focus returns to the picture');

  // Ben sends a video with the picture button; Ann plays it in the viewer.
  await openChat(b.page, conv);
  await b.page.locator('input[type=file][accept^="image/"]').setInputFiles({ name: 'clip.webm', mimeType: 'video/webm', buffer: await webmBytes() });
  const play = log(a.page).getByRole('button', { name: 'Play video' });
  await play.waitFor({ timeout: 30_000 });
  await play.click();
  const vv = a.page.getByRole('dialog', { name: 'Video' });
  await until('the video to load', () => vv.locator('video').evaluate((v) => v.readyState >= 1).catch(() => false), 20_000);
  await vv.getByRole('button', { name: 'Close' }).click();
  await vv.waitFor({ state: 'detached' });
  await composer(a.page).fill('Nice clip!');
  await a.page.screenshot({ path: path.join(SHOTS, 'desktop-two-pane-1280.png') });

  // At phone width the same address is one column: the chat alone, with a back link.
  await a.page.setViewportSize({ width: 390, height: 800 });
  await until('the list to leave the screen', async () => (await a.page.getByRole('list', { name: 'Chats' }).count()) === 0);
  await a.page.getByRole('link', { name: 'Back' }).waitFor();
  await a.page.screenshot({ path: path.join(SHOTS, 'phone-chat-390.png') });
  await a.page.getByRole('link', { name: 'Back' }).click();
  await a.page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  await a.page.screenshot({ path: path.join(SHOTS, 'phone-chats-390.png') });

  // In Chinese, the same screen.
  const z = await signedIn(ann, { width: 1280, height: 800, locale: 'zh-CN', lang: 'zh' });
  await openChat(z.page, conv);
  await log(z.page).getByRole('separator', { name: '今天' }).waitFor();
  await z.page.getByRole('button', { name: '发送', exact: true }).waitFor();
  await z.page.getByText('全部聊天').count();
  await z.page.screenshot({ path: path.join(SHOTS, 'desktop-two-pane-zh-1280.png') });
  assert.deepEqual([...a.problems, ...b.problems, ...z.problems], []);
  for (const x of [a, b, z]) await x.context.close();
});

test('what the server already does: photo, password change and reset, group admins, reports, support, incident notices', { timeout: 200_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Owner', 'Ben Member');
  const cara = await person('Cara Member');
  await befriend(ann, cara);
  const group = (await ann.call('POST', '/api/v1/conversations', { kind: 'group', name: 'Book club', members: [ben.user.id, cara.user.id] })).id;
  await send(ben, conv, 'buy cheap watches at spam.example');

  const a = await signedIn(ann);
  const c = await signedIn(cara);

  // Profile photo: Me › Profile › Profile photo.
  await a.page.goto(`${server.base}/me`);
  await tab(a.page, 'Me').click();
  await a.page.getByRole('link', { name: 'Profile' }).click();
  await a.page.getByRole('link', { name: 'Profile photo' }).click();
  await a.page.locator('input[type=file][accept="image/*"]').setInputFiles({ name: 'face.png', mimeType: 'image/png', buffer: await pngBytes(200, 200, '#36c') });
  await textMatches(status(a.page), /Your profile photo was changed/);
  await until('the new photo', () => a.page.getByRole('img', { name: 'Your profile photo' }).evaluate((i) => i.complete && i.naturalWidth > 0).catch(() => false));
  assert.ok((await ann.call('GET', '/api/v1/me')).avatar_url, 'the server has the avatar');

  // Group admins and member removal: Ann (owner) makes Ben an admin and removes Cara.
  await a.page.goto(`${server.base}/chats/${group}/info`);
  await a.page.getByRole('button', { name: 'Make Ben Member an admin' }).click();
  await textMatches(status(a.page), /Ben Member is now an admin/);
  await a.page.getByRole('button', { name: 'Remove Cara Member from the group' }).click();
  await a.page.getByRole('group', { name: 'Remove Cara Member from the group?' }).getByRole('button', { name: 'Remove' }).click();
  await textMatches(status(a.page), /Cara Member was removed from the group/);
  await a.page.getByRole('heading', { name: 'Members (2)' }).waitFor();
  const info = await ben.call('GET', `/api/v1/conversations/${group}`);
  assert.equal(info.role, 'admin');
  await c.page.goto(`${server.base}/chats`);
  await c.page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  await c.page.waitForTimeout(300);
  assert.equal(await c.page.locator('a.chat-row', { hasText: 'Book club' }).count(), 0, 'Cara no longer sees the group');

  // Report a message.
  await openChat(a.page, conv);
  const spam = log(a.page).locator('.msg', { hasText: 'cheap watches' });
  await spam.getByRole('button', { name: 'Message actions' }).click();
  await spam.getByRole('button', { name: 'Report' }).click();
  const dlg = a.page.getByRole('dialog', { name: 'Report this message' });
  await dlg.getByLabel('What is wrong?').fill('Advertising spam');
  await dlg.getByRole('button', { name: 'Send report' }).click();
  await dlg.getByText('The report was sent to the moderators.').waitFor();
  await dlg.getByRole('button', { name: 'Close' }).click();
  // Report a person, from the chat's info.
  await a.page.getByRole('link', { name: 'Chat info' }).click();
  await a.page.getByRole('button', { name: 'Report Ben Member' }).click();
  const dlg2 = a.page.getByRole('dialog', { name: 'Report this person' });
  await dlg2.getByLabel('What is wrong?').fill('Sends spam');
  await dlg2.getByRole('button', { name: 'Send report' }).click();
  await dlg2.getByText('The report was sent to the moderators.').waitFor();
  await dlg2.getByRole('button', { name: 'Close' }).click();

  // Report a post in Moments.
  await ben.call('POST', '/api/v1/moments', { text: 'Cheap watches, DM me', media_ids: [], visibility: { kind: 'friends', users: [] } });
  await tab(a.page, 'Moments').click();
  const post = a.page.locator('article.moment', { hasText: 'Cheap watches, DM me' });
  await post.getByRole('button', { name: 'Report: Ben Member' }).click();
  const dlg3 = a.page.getByRole('dialog', { name: 'Report this post' });
  await dlg3.getByLabel('What is wrong?').fill('Advertising');
  await dlg3.getByRole('button', { name: 'Send report' }).click();
  await dlg3.getByText('The report was sent to the moderators.').waitFor();
  await dlg3.getByRole('button', { name: 'Close' }).click();

  // Help and feedback: a ticket, listed and opened.
  await tab(a.page, 'Me').click();
  await a.page.getByRole('link', { name: 'Help and feedback' }).click();
  await a.page.getByLabel('What is it?').selectOption('question');
  await a.page.getByLabel('Subject').fill('How do I export my chats?');
  await a.page.getByLabel('Your message').fill('I would like a copy of everything.');
  await a.page.getByRole('button', { name: 'Send', exact: true }).click();
  await textMatches(status(a.page), /We will answer here/);
  await a.page.getByRole('link', { name: /How do I export my chats\?/ }).click();
  await a.page.getByText('I would like a copy of everything.').waitFor();

  // An incident notice reaches Ann as it is recorded, and is kept under Me › Notices.
  const officer = await person('Olivia Officer');
  const res = spawnSync(process.env.TKESJ_BIN, ['admin', 'staff', 'add', '--username', officer.user.username, '--role', 'privacy_officer', '--data', path.join(server.dir, 'data')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 0, res.stderr || res.stdout);
  await officer.call('POST', '/api/v1/admin/incidents', {
    summary: 'A backup disk was lost in transit; it was encrypted.',
    occurred_at: new Date().toISOString(),
    categories: ['contacts'],
    user_ids: [ann.user.id],
  });
  const banner = a.page.getByRole('alert').filter({ hasText: /Notice from tkesj/ });
  await banner.waitFor();
  await banner.getByRole('link', { name: 'Read it' }).click();
  await a.page.getByRole('heading', { name: 'Notices', level: 1 }).waitFor();
  await a.page.getByRole('button', { name: /Mark as read/ }).click();
  await a.page.getByText('Read', { exact: true }).waitFor();

  // Password change: Cara's other browser is signed out; the new password works.
  const c2 = await newPerson();
  await c2.page.goto(`${server.base}/login`);
  await c2.page.getByLabel('Username or phone number').fill(cara.user.username);
  await c2.page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
  await c2.page.getByRole('button', { name: 'Log in', exact: true }).click();
  await c2.page.waitForURL('**/me');
  await c.page.goto(`${server.base}/me/security`);
  await c.page.getByRole('link', { name: 'Change password' }).click();
  await c.page.getByLabel('Current password').fill(PASSWORD);
  await c.page.getByRole('textbox', { name: 'Password', exact: true }).fill('N3w-Passw0rd!x');
  await c.page.getByRole('button', { name: 'Change password' }).click();
  await textMatches(status(c.page), /Every other device was signed out/);
  await c2.page.reload();
  await c2.page.waitForURL('**/login', { timeout: 20_000 });

  // Forgotten password, by a code texted to the phone.
  const doc = await (await fetch(`${server.base}/api/v1/openapi.json`)).json();
  const r2 = await newPerson();
  await r2.page.goto(`${server.base}/login`);
  await r2.page.getByRole('link', { name: 'Forgot your password?' }).click();
  await r2.page.getByRole('heading', { name: 'Reset your password', level: 1 }).waitFor();
  // The screen goes phone → code → new password (issue 15; e2e/conv.test.mjs drives it in full).
  const since = sms.codes.length;
  await r2.page.getByLabel('Mobile phone number').fill(cara.user.phone);
  await r2.page.getByRole('button', { name: 'Text me a code' }).click();
  await r2.page.getByLabel('Verification code').fill(doc.paths?.['/api/v1/password-resets'] ? await codeFor(cara.user.phone, 'reset', since) : '123456');
  await r2.page.getByRole('button', { name: 'Next' }).click();
  await r2.page.getByRole('textbox', { name: 'Password', exact: true }).fill('Reset-Passw0rd!y');
  await r2.page.getByRole('button', { name: 'Set new password' }).click();
  if (doc.paths?.['/api/v1/password-resets']) await textMatches(status(r2.page), /Log in with the new one/);
  // Without the server's reset route the screen says what to do instead.
  else await textMatches(r2.page.getByRole('alert').filter({ hasText: /\S/ }), /cannot reset passwords yet|not right/);
  assert.deepEqual([...a.problems, ...c.problems, ...c2.problems, ...r2.problems], []);
  for (const x of [a, c, c2, r2]) await x.context.close();
});

test('accessibility: axe finds no WCAG 2.1 A/AA violations on the new screens', { timeout: 240_000 }, async () => {
  const { x: ann, y: ben, conv } = await pair('Ann Axe', 'Ben Axe');
  await send(ben, conv, 'see https://example.com for details');
  const found = [];
  for (const width of [390, 1280]) {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width, height: 800 }, bypassCSP: true });
    context.setDefaultTimeout(15_000);
    await context.addInitScript((tok) => localStorage.setItem('tkesj.token', tok), ann.token);
    const page = await context.newPage();
    // Both colour schemes where the layout differs by width (the chat); light elsewhere.
    const screens = [
      ['chats', '/chats', () => page.locator('a.chat-row').first().waitFor(), ['light', 'dark']],
      ['conversation', `/chats/${conv}`, () => log(page).getByText('for details').waitFor(), ['light', 'dark']],
    ];
    if (width === 390)
      screens.push(
        ['photo', '/me/photo', () => page.getByRole('heading', { name: 'Profile photo' }).waitFor(), ['light']],
        ['password', '/me/password', () => page.getByLabel('Current password').waitFor(), ['light']],
        ['support', '/me/support', () => page.getByLabel('Subject').waitFor(), ['light']],
        ['notices', '/me/notices', () => page.getByText('No notices.').waitFor(), ['dark']],
      );
    for (const [name, url, ready, schemes] of screens) {
      await page.goto(`${server.base}${url}`);
      await ready();
      for (const scheme of schemes) {
        await page.emulateMedia({ colorScheme: scheme });
        found.push(...(await axeViolations(page, `${name} ${width} [${scheme}]`)));
      }
    }
    if (width === 390) {
      // The report dialog.
      await page.emulateMedia({ colorScheme: 'light' });
      await page.goto(`${server.base}/chats/${conv}`);
      const m = log(page).locator('.msg', { hasText: 'for details' });
      await m.getByRole('button', { name: 'Message actions' }).click();
      await m.getByRole('button', { name: 'Report' }).click();
      await page.getByRole('dialog', { name: 'Report this message' }).waitFor();
      found.push(...(await axeViolations(page, `report dialog ${width}`)));
    }
    await context.close();
  }
  const out = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 800 }, bypassCSP: true });
  const lp = await out.newPage();
  await lp.goto(`${server.base}/reset`);
  await lp.getByRole('heading', { name: 'Reset your password' }).waitFor();
  found.push(...(await axeViolations(lp, 'reset')));
  await out.close();
  assert.deepEqual(found, []);
});
