// Browser tests of calls (issue 16, R-CAL-1..3) with the shared harness
// (e2e/harness.mjs): a real server with its built-in TURN relay on loopback,
// Chromium with fake camera and microphone. Every call really connects:
// the tests read RTCPeerConnection.getStats() through the page's call engine
// (window.__tkesjCall) and want audio and video bytes received.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/calls.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiRegister, befriend, browser, direct, launchArgs, server, serverArgs, shots, textMatches, until } from './harness.mjs';

launchArgs.push(
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
);
// The relay on loopback; a short ring so "missed" comes in seconds.
serverArgs.push('--turn-addr', '127.0.0.1:0', '--call-ring-timeout', '20s');

let seq = 0;
/** A person registered through the API, signed in in a browser context. */
async function person(nickname, { permissions = ['microphone', 'camera'], relay = false } = {}) {
  const n = ++seq;
  const u = await apiRegister({ phone: `+861390013${String(8000 + n).padStart(4, '0')}`, username: `call_${n}_${Date.now() % 100000}`, nickname });
  for (const p of permissions) await u.call('PUT', `/api/v1/me/permissions/${p}`, { granted: true });
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 } });
  context.setDefaultTimeout(60_000);
  await context.grantPermissions(['microphone', 'camera'], { origin: server.base });
  await context.addInitScript(
    ([token, relay]) => {
      localStorage.setItem('tkesj.token', token);
      if (relay) localStorage.setItem('tkesj.iceTransportPolicy', 'relay');
    },
    [u.token, relay],
  );
  const page = await context.newPage();
  if (process.env.DEBUG_CALLS) {
    page.on('console', (m) => console.log(nickname, m.type(), m.text().slice(0, 300)));
    page.on('pageerror', (e) => console.log(nickname, 'pageerror', e.message, e.stack));
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => console.log(nickname, 'recv', String(f.payload).slice(0, process.env.DEBUG_CALLS === '2' ? 100000 : 200)));
      ws.on('framesent', (f) => console.log(nickname, 'sent', String(f.payload).slice(0, process.env.DEBUG_CALLS === '2' ? 100000 : 200)));
    });
  }
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  await page.goto(`${server.base}/chats`);
  return { ...u, id: u.user.id, nickname, context, page, problems };
}

async function directChat(a, b) {
  await befriend(a, b);
  return direct(a, b);
}

const callDialog = (page) => page.locator('.call-screen');

/** Waits until the page's call has received audio (and video) bytes from each of `peers` others. */
async function receivesFrom(p, peers, video, timeout = 45_000) {
  let last = {};
  await until(
    `${p.nickname} receiving from ${peers} people`,
    async () => {
      last = await p.page.evaluate(() => window.__tkesjCall.inboundByPeer());
      const got = Object.values(last).filter((x) => x.audio > 0 && (!video || x.video > 0));
      return got.length >= peers;
    },
    timeout,
  ).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)}`);
  });
  return last;
}

async function openChat(p, conv) {
  await p.page.goto(`${server.base}/chats/${encodeURIComponent(conv)}`);
  await p.page.getByRole('button', { name: 'Video call' }).waitFor();
}

async function close(...people) {
  for (const p of people) {
    assert.deepEqual(p.problems, [], `${p.nickname}'s page had problems`);
    await p.context.close();
  }
}

test('R-CAL-1: a one-to-one video call rings, connects peer to peer, both sides receive audio and video, and hang-up leaves the record', async () => {
  const ann = await person('Ann');
  const bo = await person('Bo');
  const conv = await directChat(ann, bo);
  await openChat(ann, conv);
  await ann.page.getByRole('button', { name: 'Video call' }).click();
  await textMatches(callDialog(ann.page).getByRole('status'), /Calling|Connecting/);
  // Bo's phone rings with the incoming-call screen.
  const incoming = bo.page.getByRole('dialog', { name: 'Incoming video call' });
  await incoming.waitFor();
  await textMatches(incoming.locator('h2'), /Ann/);
  await shots(bo.page, 'call-incoming');
  await incoming.getByRole('button', { name: 'Accept' }).click();
  await receivesFrom(ann, 1, true);
  await receivesFrom(bo, 1, true);
  const relayed = await ann.page.evaluate(() => window.__tkesjCall.inbound());
  assert.equal(relayed.relay, false, 'a loopback call should connect directly');
  // The call screen: the other person's video, the self view, the controls.
  await bo.page.locator('video.call-remote').waitFor();
  await bo.page.locator('video.call-self').waitFor();
  await shots(bo.page, 'call-video');
  await bo.page.getByRole('button', { name: 'Mute' }).click();
  await textMatches(ann.page.locator('.call-name'), /muted/);
  await ann.page.getByRole('button', { name: 'Hang up' }).click();
  await textMatches(bo.page.locator('.call-toast'), /Call ended/);
  // The record: in Ann's open chat, and as the preview in Bo's chat list.
  await textMatches(ann.page.locator('.call-record'), /Video call · \d+:\d\d/);
  await textMatches(bo.page.locator('.chat-preview'), /Video call · \d+:\d\d/);
  await close(ann, bo);
});

test('R-CAL-3: with iceTransportPolicy "relay" the built-in TURN relay carries the call, with credentials for the participants only', async () => {
  const ann = await person('Ann Relay', { relay: true });
  const bo = await person('Bo Relay', { relay: true });
  const conv = await directChat(ann, bo);
  await openChat(ann, conv);
  await ann.page.getByRole('button', { name: 'Video call' }).click();
  await bo.page.getByRole('dialog', { name: 'Incoming video call' }).getByRole('button', { name: 'Accept' }).click();
  await receivesFrom(ann, 1, true);
  await receivesFrom(bo, 1, true);
  for (const p of [ann, bo]) {
    // Read until the transport reports its selected pair (a few hundred ms
    // after media starts on the answering side).
    let s;
    for (let i = 0; i < 50; i++) {
      s = await p.page.evaluate(() => window.__tkesjCall.inbound());
      if (s.relay) break;
      await p.page.waitForTimeout(100);
    }
    assert.equal(s.relay, true, `${p.nickname}'s selected candidate pair should be a relay one`);
  }
  // The answer to starting or joining holds TURN credentials; a member who
  // is not in the call gets none, a stranger gets 404.
  const callId = await ann.page.evaluate(() => window.__tkesjCall.call.id);
  const eve = await apiRegister({ phone: '+8613900139999', username: `eve_${Date.now() % 100000}`, nickname: 'Eve' });
  const r = await fetch(`${server.base}/api/v1/calls/${callId}`, { headers: { Authorization: `Bearer ${eve.token}` } });
  assert.equal(r.status, 404);
  const mine = await fetch(`${server.base}/api/v1/calls/${callId}`, { headers: { Authorization: `Bearer ${bo.token}` } });
  assert.equal((await mine.json()).ice_servers, undefined, 'reading a call hands out no credentials');
  await bo.page.getByRole('button', { name: 'Hang up' }).click();
  await close(ann, bo);
});

test('R-CAL-2: a group call of three through the SFU: each person receives the other two', async () => {
  const people = [await person('Gia'), await person('Hal'), await person('Ivy')];
  const [gia, hal, ivy] = people;
  await befriend(gia, hal);
  await befriend(gia, ivy);
  const group = await gia.call('POST', '/api/v1/conversations', { kind: 'group', name: 'Trio', members: [hal.id, ivy.id] });
  await openChat(gia, group.id);
  await gia.page.getByRole('button', { name: 'Video call' }).click();
  for (const p of [hal, ivy]) await p.page.getByRole('dialog', { name: 'Group call' }).getByRole('button', { name: 'Accept' }).click();
  for (const p of people) await receivesFrom(p, 2, true, 60_000);
  await until('three tiles', async () => (await ivy.page.locator('.call-tile').count()) === 2);
  await ivy.page.setViewportSize({ width: 1280, height: 900 });
  await shots(ivy.page, 'call-group');
  // One leaves; the two others go on.
  await ivy.page.evaluate(() => window.__tkesjCall.hangUp());
  await until('Ivy gone from Gia\'s grid', async () => (await gia.page.locator('.call-tile').count()) === 1, 60_000);
  await gia.page.getByRole('button', { name: 'Hang up' }).click();
  await textMatches(hal.page.locator('.call-toast'), /Call ended/);
  await close(...people);
});

test('R-CAL-1: declined, missed and busy calls leave the right records; R-CAL-3: no microphone permission is 403', async () => {
  const ann = await person('Ann D');
  const bo = await person('Bo D');
  const cy = await person('Cy D', { permissions: [] });
  const conv = await directChat(ann, bo);
  const convCB = await directChat(cy, bo);
  await openChat(ann, conv);

  // Declined.
  await ann.page.getByRole('button', { name: 'Voice call' }).click();
  await bo.page.getByRole('dialog', { name: 'Incoming voice call' }).getByRole('button', { name: 'Decline' }).click();
  await textMatches(ann.page.locator('.call-toast'), /declined/);
  await textMatches(ann.page.locator('.call-record').last(), /Voice call declined/);

  // Missed: nobody answers within the ring timeout (20 s on this server).
  await ann.page.getByRole('button', { name: 'Voice call' }).click();
  await bo.page.getByRole('dialog', { name: 'Incoming voice call' }).waitFor();
  await textMatches(ann.page.locator('.call-toast'), /No answer/, 60_000);
  await textMatches(ann.page.locator('.call-record').last(), /Missed Voice call/);
  await bo.page.getByRole('dialog', { name: 'Incoming voice call' }).waitFor({ state: 'detached' });

  // Without the microphone permission, starting a call is refused (403).
  const r = await fetch(`${server.base}/api/v1/calls`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${cy.token}` },
    body: JSON.stringify({ conversation_id: convCB, media: 'audio' }),
  });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).code, 'permission_revoked');
  await openChat(cy, convCB);
  await cy.page.getByRole('button', { name: 'Voice call' }).click();
  await textMatches(cy.page.locator('.call-toast'), /microphone permission/);

  // Busy: Bo is in a call with Ann when Cy calls.
  await cy.call('PUT', '/api/v1/me/permissions/microphone', { granted: true });
  const started = await ann.call('POST', '/api/v1/calls', { conversation_id: conv, media: 'audio' });
  await bo.page.getByRole('dialog', { name: 'Incoming voice call' }).getByRole('button', { name: 'Accept' }).click();
  await until('Bo in the call', async () => (await bo.call('GET', `/api/v1/calls/${started.call.id}`)).call.state === 'active');
  await cy.page.getByRole('button', { name: 'Voice call' }).click();
  await textMatches(cy.page.locator('.call-toast'), /Busy/);
  await textMatches(cy.page.locator('.call-record').last(), /busy/);
  await ann.call('POST', `/api/v1/calls/${started.call.id}/leave`);
  await close(ann, bo, cy);
});

/**
 * A second tab for someone, whose call screens (a chunk of their own, loaded
 * when a call comes) arrive 2 s late, with no service worker to serve them
 * from its cache: a call frame always beats them. Records the scripts fetched
 * and counts the socket's ready frames.
 */
async function slowCallChunkTab(p) {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 }, serviceWorkers: 'block' });
  context.setDefaultTimeout(60_000);
  await context.grantPermissions(['microphone', 'camera'], { origin: server.base });
  await context.addInitScript((token) => localStorage.setItem('tkesj.token', token), p.token);
  const scripts = [];
  await context.route(/\/assets\/[^/]+\.js$/, async (route) => {
    const url = route.request().url();
    scripts.push(url);
    if (/\/assets\/call-[^/]*\.js$/.test(url)) await new Promise((r) => setTimeout(r, 2000));
    await route.continue();
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const tab = { ...p, context, page, problems, scripts, readies: 0 };
  page.on('websocket', (ws) => ws.on('framereceived', (f) => /"type":"ready"/.test(String(f.payload)) && tab.readies++));
  return tab;
}

const callChunk = (scripts) => scripts.filter((u) => /\/assets\/call-[^/]*\.js$/.test(u));

test('R-CAL-1: a call rings though the call screens load only when it comes: announced in the ready frame of a page opened while it rings, or arriving while they load', async () => {
  const ann = await person('Ann Early');
  const first = await person('Bo Early');
  const conv = await directChat(ann, first);
  await first.context.close();
  const bo = await slowCallChunkTab(first);

  // Ann calls while Bo has no page open; the page Bo opens learns of the
  // ringing call from its socket's ready frame, before the call screens are in.
  await openChat(ann, conv);
  await ann.page.getByRole('button', { name: 'Video call' }).click();
  await textMatches(callDialog(ann.page).getByRole('status'), /Calling/);
  await bo.page.goto(`${server.base}/me`);
  const incoming = bo.page.getByRole('dialog', { name: 'Incoming video call' });
  await incoming.waitFor();
  await textMatches(incoming.locator('h2'), /Ann Early/);
  await incoming.getByRole('button', { name: 'Accept' }).click();
  await receivesFrom(ann, 1, true);
  await receivesFrom(bo, 1, true);
  await ann.page.getByRole('button', { name: 'Hang up' }).click();
  await textMatches(bo.page.locator('.call-toast'), /Call ended/);

  // A fresh load does not fetch the call screens; a call frame that comes
  // then starts loading them, and rings once they are in.
  bo.scripts.length = 0;
  const readies = bo.readies;
  await bo.page.reload();
  await bo.page.getByRole('heading', { name: 'Me', level: 1 }).waitFor();
  await until("Bo's socket ready", async () => bo.readies > readies);
  await bo.page.waitForTimeout(500);
  assert.deepEqual(callChunk(bo.scripts), [], 'the first load fetched the call screens');
  await until('Ann free to call again', async () => !(await ann.page.getByRole('button', { name: 'Voice call' }).isDisabled()));
  await ann.page.getByRole('button', { name: 'Voice call' }).click();
  const ringing = bo.page.getByRole('dialog', { name: 'Incoming voice call' });
  await ringing.waitFor();
  assert.notDeepEqual(callChunk(bo.scripts), [], 'the call screens load when a call comes');
  await ringing.getByRole('button', { name: 'Decline' }).click();
  await textMatches(ann.page.locator('.call-toast'), /declined/);
  await close(ann, bo);
});
