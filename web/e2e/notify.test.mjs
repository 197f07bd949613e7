// Notifications, the installable app and the socket's ticket (issue 13,
// R-NTF-3), with the harness of foundation.test.mjs (e2e/harness.mjs).
//
// The server really pushes: this file runs a push service on loopback (the
// server admits it by --push-allow-hosts), receives the server's encrypted
// POST and decrypts it with http_ece, an independent RFC 8291 implementation,
// using the subscription's private key. The decrypted payload is then handed
// to the service worker through the DevTools protocol
// (ServiceWorker.deliverPushMessage), as the browser's push service would.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/notify.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import ece from 'http_ece';
import { apiRegister, newPerson, serverArgs, server, textMatches, until } from './harness.mjs';

// ---- A push service on loopback ----

const pushed = []; // { path, headers, body: Buffer }
const pushService = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    pushed.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(201).end();
  });
});
await new Promise((r) => pushService.listen(0, '127.0.0.1', r));
pushService.unref();
const pushHost = `127.0.0.1:${pushService.address().port}`;
serverArgs.push('--push-allow-hosts', pushHost);

/** A subscription as a browser makes one: P-256 key pair and auth secret. */
function newSubscription(name) {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = crypto.randomBytes(16);
  return {
    ecdh,
    auth,
    json: {
      endpoint: `http://${pushHost}/push/${name}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    },
  };
}

/** Waits for the next push to sub's endpoint and decrypts it with http_ece. */
async function nextPush(sub, since) {
  let hit;
  await until('a push from the server', () => (hit = pushed.slice(since).find((p) => p.path === new URL(sub.json.endpoint).pathname)), 20_000);
  assert.equal(hit.headers['content-encoding'], 'aes128gcm');
  assert.match(String(hit.headers.authorization), /^vapid t=.+, k=.+/);
  const plain = ece.decrypt(hit.body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth.toString('base64url') });
  return JSON.parse(plain.toString('utf8'));
}

let n = 0;
async function person(nickname) {
  n++;
  const u = `${nickname.toLowerCase()}_ntf${n}`;
  return apiRegister({ phone: `+86137${String(Date.now() % 100000).padStart(5, '0')}${String(n).padStart(3, '0')}`, username: u, nickname });
}

async function friends(a, b) {
  const req = await a.call('POST', '/api/v1/friend-requests', { to: b.user.id, greeting: 'hi' });
  await b.call('POST', `/api/v1/friend-requests/${req.id}/accept`);
  return (await a.call('POST', '/api/v1/conversations', { kind: 'direct', members: [b.user.id] })).id;
}

/** Opens the app in a fresh browser context, signed in with p's token. */
async function signedIn(p, permissions = []) {
  const b = await newPerson();
  if (permissions.length) await b.context.grantPermissions(permissions, { origin: server.base });
  b.wsURLs = [];
  b.requests = [];
  b.page.on('websocket', (ws) => b.wsURLs.push(ws.url()));
  b.page.on('response', (r) => b.requests.push({ url: r.url(), status: r.status() }));
  await b.page.goto(`${server.base}/`);
  await b.page.evaluate((t) => localStorage.setItem('tkesj.token', t), p.token);
  await b.page.goto(`${server.base}/me`);
  await b.page.getByRole('heading', { name: 'Me', level: 1 }).waitFor();
  // The service worker is installed and controls the page.
  await b.page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  // An active worker controls every page loaded after it; this one too once it claims it.
  if (!(await b.page.evaluate(() => !!navigator.serviceWorker.controller))) {
    await b.page.reload();
    await b.page.getByRole('heading', { name: 'Me', level: 1 }).waitFor();
  }
  await until('the service worker controls the page', () => b.page.evaluate(() => !!navigator.serviceWorker.controller).catch(() => false), 45_000);
  return b;
}

test('R-NTF-3: a real push from the server decrypts, the service worker shows it as the preview setting says, and a click opens the chat', { timeout: 240_000 }, async () => {
  const started = Date.now();
  const alice = await person('Alice');
  const bob = await person('Bob');
  const conv = await friends(bob, alice);

  // Alice's device is subscribed and offline (no socket acknowledges), so
  // the server pushes to it.
  const sub = newSubscription('alice');
  await alice.call('PUT', '/api/v1/me/permissions/notifications', { granted: true });
  await alice.call('PUT', '/api/v1/me/push-subscription', sub.json);
  let since = pushed.length;
  await bob.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'ntf-1', kind: 'text', text: 'the secret plan' });
  const hidden = await nextPush(sub, since);
  assert.equal(hidden.conversation_id, conv);
  assert.equal(hidden.title, 'Bob');
  assert.equal(hidden.preview, false);
  assert.ok(!JSON.stringify(hidden).includes('secret'), `a push without previews carries no text: ${JSON.stringify(hidden)}`);

  await alice.call('PATCH', '/api/v1/me/settings', { push_show_text: true });
  since = pushed.length;
  await bob.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'ntf-2', kind: 'text', text: 'lunch at noon?' });
  const shown = await nextPush(sub, since);
  assert.equal(shown.preview, true);
  assert.equal(shown.body, 'lunch at noon?');

  // Alice opens the app; the browser has allowed notifications.
  const a = await signedIn(alice, ['notifications']);
  const cdp = await a.context.newCDPSession(a.page);
  const regs = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => e.registrations.forEach((r) => regs.set(r.scopeURL, r.registrationId)));
  await cdp.send('ServiceWorker.enable');
  await until('the service worker registration', () => regs.has(`${server.base}/`));
  // The registration's worker is running and activated before pushes go to it.
  await until('an activated worker', () => a.page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state === 'activated'));
  const deliver = (payload) =>
    cdp.send('ServiceWorker.deliverPushMessage', { origin: server.base, registrationId: regs.get(`${server.base}/`), data: JSON.stringify(payload) });
  const notifications = () =>
    a.page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((x) => ({ title: x.title, body: x.body, url: x.data?.url })));

  await deliver(hidden);
  await until('the text-free notification', async () => (await notifications()).length === 1, 45_000);
  assert.deepEqual(await notifications(), [{ title: 'Bob', body: 'sent you a message', url: `/chats/${conv}` }]);
  await deliver(shown); // same chat: replaces the first (one notification per chat)
  await until('the preview notification', async () => (await notifications())[0]?.body === 'lunch at noon?', 45_000);
  assert.equal((await notifications()).length, 1);

  // In Chinese, the text-free form is worded in Chinese.
  await a.page.evaluate(() => localStorage.setItem('tkesj.lang', 'zh'));
  await a.page.reload();
  await a.page.getByRole('heading', { name: '我', level: 1 }).waitFor();
  await until('the language reaches the worker', () =>
    a.page.evaluate(async () => (await (await caches.open('tkesj-prefs')).match('/__prefs'))?.json().then((j) => j.lang === 'zh') ?? false),
  );
  await deliver({ ...hidden, conversation_id: 'c-other' });
  await until('the Chinese notification', async () => (await notifications()).some((x) => x.body === '给你发来一条消息'), 45_000);
  await a.page.evaluate(() => localStorage.setItem('tkesj.lang', 'en'));
  await a.page.reload();
  await a.page.getByRole('heading', { name: 'Me', level: 1 }).waitFor();

  // A click on the notification opens that chat in the open tab. (No
  // DevTools command clicks a notification, so the worker is handed the
  // click event its notification would fire.)
  const worker = a.context.serviceWorkers().find((w) => w.url().endsWith('/sw.js'));
  assert.ok(worker, 'the service worker is visible to the test');
  await worker.evaluate(async (url) => {
    const n = (await self.registration.getNotifications()).find((x) => x.data?.url === url);
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  }, `/chats/${conv}`);
  await a.page.waitForURL(`**/chats/${conv}`);
  await a.page.getByRole('heading', { name: 'Bob', level: 1 }).waitFor();
  await textMatches(a.page.getByRole('log'), /lunch at noon\?/);

  // The socket never carried the token in its URL; it used a ticket.
  assert.ok(a.wsURLs.length > 0, 'the app opened a socket');
  for (const u of a.wsURLs) {
    assert.ok(!/token=|tk_/.test(u), `a WebSocket URL carries the token: ${u}`);
    assert.match(u, /[?&]ticket=wst_/);
  }
  // No request of an ordinary person's page load was refused (no 403 on /admin/me).
  assert.deepEqual(a.requests.filter((r) => r.status === 403 || r.url.includes('/admin/me')), []);
  assert.deepEqual(a.problems, []);
  await a.context.close();
  console.log(`# push test took ${Date.now() - started} ms`);
});

test('R-NTF-3: allowing notifications is recorded in the ledger; the tab shows the unread count in its title and favicon', { timeout: 180_000 }, async () => {
  const carol = await person('Carol');
  const dan = await person('Dan');
  const conv = await friends(dan, carol);
  const c = await signedIn(carol, ['notifications']);
  await c.page.getByRole('link', { name: 'Notifications and sound' }).click();
  await c.page.getByRole('heading', { name: 'Notifications and sound', level: 1 }).waitFor();
  await c.page.getByRole('button', { name: 'Allow notifications' }).click();
  // The grant is in the ledger whether or not this Chromium has a push
  // service to subscribe with (a headless one without network has none).
  await until('the ledger entry', async () =>
    (await carol.call('GET', '/api/v1/me/consents')).consents.some((e) => e.kind === 'permission' && e.subject === 'notifications' && e.granted),
  );
  await c.page.getByRole('switch', { name: 'Sound for new messages' }).check();
  assert.equal(await c.page.evaluate(() => localStorage.getItem('tkesj.sound')), 'on');

  await c.page.getByRole('link', { name: 'Me', exact: true }).click();
  await dan.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'u-1', kind: 'text', text: 'one' });
  await dan.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'u-2', kind: 'text', text: 'two' });
  await until('the unread count in the title', async () => /^\(2\) /.test(await c.page.title()));
  await until('the badged favicon', () => c.page.evaluate(() => document.querySelector('link[rel="icon"]').href.startsWith('data:image/png')));
  // Reading the chat clears both.
  await c.page.goto(`${server.base}/chats/${conv}`);
  await textMatches(c.page.getByRole('log'), /two/);
  await until('the title without a count', async () => !/^\(\d+\)/.test(await c.page.title()));
  await until('the plain favicon', () => c.page.evaluate(() => document.querySelector('link[rel="icon"]').href.endsWith('/favicon.svg')));
  assert.deepEqual(c.problems, []);
  await c.context.close();
});

test('the app is installable and opens offline with the chats it saw; what is written offline is sent once back', { timeout: 180_000 }, async () => {
  const erin = await person('Erin');
  const fay = await person('Fay');
  const conv = await friends(fay, erin);
  await fay.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: 'off-1', kind: 'text', text: 'saved for later' });
  const manifest = await (await fetch(`${server.base}/manifest.webmanifest`)).json();
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.icons.some((i) => i.sizes === '512x512' && i.purpose === 'maskable'));
  for (const i of manifest.icons) {
    const r = await fetch(`${server.base}${i.src}`);
    assert.equal(r.headers.get('content-type'), 'image/png', i.src);
  }

  const e = await signedIn(erin);
  await e.page.goto(`${server.base}/chats/${conv}`);
  await textMatches(e.page.getByRole('log'), /saved for later/);
  await e.page.goto(`${server.base}/chats`);
  await e.page.locator('a.chat-row', { hasText: 'Fay' }).waitFor();

  const fromCache = [];
  e.page.on('response', (r) => {
    if (r.url().includes('/api/v1/conversations') && r.headers()['x-tkesj-offline'] === '1') fromCache.push(new URL(r.url()).pathname);
  });
  await e.context.setOffline(true);
  await e.page.reload();
  await e.page.getByText('You are offline: showing saved chats. Messages you write are sent when you are back online.').waitFor();
  await e.page.locator('a.chat-row', { hasText: 'Fay' }).click();
  await textMatches(e.page.getByRole('log'), /saved for later/);
  // What showed came from the service worker's copies, not the network.
  assert.ok(fromCache.includes('/api/v1/conversations'), `the chat list came from the offline cache: ${fromCache}`);
  assert.ok(fromCache.includes(`/api/v1/conversations/${conv}/messages`), `the messages came from the offline cache: ${fromCache}`);
  // Not read only, as the banner said it was: a message written now waits
  // and goes when the network is back, as the banner now says.
  await e.page.getByLabel('Message', { exact: true }).fill('written with the app opened offline');
  await e.page.getByLabel('Message', { exact: true }).press('Enter');
  await textMatches(e.page.getByRole('log').locator('[data-outbox]'), /Waiting for a connection/);
  await e.context.setOffline(false);
  await e.page.getByText('You are offline: showing saved chats. Messages you write are sent when you are back online.').waitFor({ state: 'detached' });
  await until('the message written offline to arrive', async () =>
    ((await fay.call('GET', `/api/v1/conversations/${conv}/messages?after_seq=0`)).messages ?? []).some((m) => m.text === 'written with the app opened offline'),
  30_000);
  await e.context.close();
});
