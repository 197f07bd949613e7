// Camera QR scanning (issue 13): Chromium's fake camera plays a video of a
// login QR code the server issued, made here from the server's own PNG (a
// few lines turn its pixels into a Y4M video: no ffmpeg). The person scans
// it with "Scan with the camera" and confirms the login; the camera grant is
// in the consent ledger. The fallback, a picture of a friend's QR code, is
// uploaded on the My QR code screen.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/qrscan.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { apiRegister, browser, server, until } from './harness.mjs';

let n = 0;
async function person(nickname) {
  n++;
  return apiRegister({ phone: `+86136${String(Date.now() % 100000).padStart(5, '0')}${String(n).padStart(3, '0')}`, username: `${nickname.toLowerCase()}_qr${n}`, nickname });
}

/** The grey levels of a PNG (a data: URL or bytes), decoded by the browser. */
async function greyPixels(png) {
  const url = typeof png === 'string' ? png : `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const r = await page.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, c.width, c.height);
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const y = [];
    for (let i = 0; i < d.length; i += 4) y.push(Math.round(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]));
    return { w: c.width, h: c.height, y };
  }, url);
  await ctx.close();
  return r;
}

/** A Y4M video (4:2:0, 640×480, a few identical frames) of the picture on white. */
function y4m({ w, h, y }, file) {
  const W = 640;
  const H = 480;
  const Y = Buffer.alloc(W * H, 235);
  const ox = Math.floor((W - w) / 2);
  const oy = Math.floor((H - h) / 2);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) Y[(oy + r) * W + ox + c] = 16 + Math.round((y[r * w + c] * 219) / 255);
  const chroma = Buffer.alloc((W / 2) * (H / 2), 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), Y, chroma, chroma]);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), frame, frame, frame, frame, frame]));
}

test('a login QR code is scanned with the camera and confirmed; the camera grant is in the ledger; a friend’s code is read from a picture', { timeout: 240_000 }, async () => {
  const alice = await person('Alice');
  const bob = await person('Bob');

  // A new browser asks to log in: the server answers the code and its PNG.
  const res = await fetch(`${server.base}/api/v1/login-qr`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ device: { id: 'web-laptop-qr', model: 'Laptop Browser', os: 'Linux', app_version: 'web-1' } }),
  });
  assert.equal(res.status, 201);
  const login = await res.json();
  const video = path.join(server.dir, 'login-qr.y4m');
  y4m(await greyPixels(login.png), video);

  // Alice's phone browser has a camera that sees only that code.
  const cam = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    const context = await cam.newContext({ locale: 'en-US', viewport: { width: 390, height: 844 } });
    context.setDefaultTimeout(15_000);
    await context.grantPermissions(['camera'], { origin: server.base });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${server.base}/`);
    await page.evaluate((t) => localStorage.setItem('tkesj.token', t), alice.token);
    await page.goto(`${server.base}/me/scan`);
    await page.getByRole('heading', { name: 'Scan to log in a web session', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Scan with the camera' }).click();
    // The code is read from the video; the device that asked is shown.
    await page.getByRole('heading', { name: 'Sign in this device?' }).waitFor({ timeout: 30_000 });
    assert.match(await page.locator('.requester-device').textContent(), /Laptop Browser/);
    assert.equal(await page.getByLabel('Login code').inputValue(), login.payload);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await until('the new browser is signed in', async () => {
      const poll = await (await fetch(`${server.base}/api/v1/login-qr/${login.id}?poll_token=${encodeURIComponent(login.poll_token)}`)).json();
      return !!poll.token;
    });
    const ledger = await alice.call('GET', '/api/v1/me/consents');
    assert.ok(ledger.consents.some((e) => e.kind === 'permission' && e.subject === 'camera' && e.granted), 'camera grant recorded');

    // The fallback: a picture of Bob's QR code adds him.
    const bobPNG = Buffer.from(await (await fetch(`${server.base}/api/v1/me/qr?size=256`, { headers: { Authorization: `Bearer ${bob.token}` } })).arrayBuffer());
    const picture = path.join(server.dir, 'bob-qr.png');
    fs.writeFileSync(picture, bobPNG);
    await page.goto(`${server.base}/me/qr`);
    await page.getByLabel('Choose a picture of a QR code').setInputFiles(picture);
    await page.getByRole('status').filter({ hasText: 'Friend request sent to Bob.' }).waitFor();
    await until('Bob gets a friend request from Alice', async () =>
      JSON.stringify(await bob.call('GET', '/api/v1/friend-requests')).includes(alice.user.id),
    );
    assert.deepEqual(problems, []);
  } finally {
    await cam.close();
  }
});
