// Lighthouse on the built-in server (a manual measurement, not part of CI):
// starts `$TKESJ_BIN serve` on a free port with a fresh data directory, makes
// two friends with a chat and a Moment through the API, signs one of them in
// in Chromium and runs Lighthouse on the chat and Moments screens at phone and
// desktop sizes. Prints the category scores and the compressed JS the first
// load fetched.
//
//   (cd .. && go build -o /tmp/tkesj ./cmd/tkesj)
//   TKESJ_BIN=/tmp/tkesj node scripts/lighthouse.mjs
//
// LH_JSON_DIR=dir keeps each report's JSON there (chat-phone.json and so on)
// for looking into what blocks the main thread (bootup-time,
// mainthread-work-breakdown, long-tasks).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import lighthouse from 'lighthouse';
import { chromium } from 'playwright-core';

const bin = process.env.TKESJ_BIN;
if (!bin) throw new Error('set TKESJ_BIN to a built tkesj binary');

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tkesj-lh-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const logFile = path.join(dir, 'server.log');
const out = fs.openSync(logFile, 'a');
const proc = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data', path.join(dir, 'data')], { stdio: ['ignore', out, out] });
// A failed run (no Chromium, a refused request) leaves no server behind.
process.on('exit', () => proc.kill('SIGTERM'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {}
  if (i > 300) throw new Error('server did not start');
  await sleep(200);
}

async function call(method, p, body, token) {
  const r = await fetch(base + p, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

/** Codes go to the server log without --sms-webhook. */
async function codeFor(phone) {
  for (let i = 0; i < 100; i++) {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n').reverse()) {
      if (line.includes(phone.slice(-4)) && /"code":"(\d{6})"/.test(line)) return line.match(/"code":"(\d{6})"/)[1];
    }
    await sleep(100);
  }
  throw new Error('no code in the log');
}

let k = 0;
async function person(nickname) {
  k++;
  const phone = `+861380013${String(k).padStart(4, '0')}`;
  await call('POST', '/api/v1/verification-codes', { phone, purpose: 'register' });
  const policy = await call('GET', '/api/v1/policy');
  return call('POST', '/api/v1/accounts', {
    phone,
    code: await codeFor(phone),
    username: `${nickname.toLowerCase()}_lh${k}`,
    password: 'Str0ng-Passw0rd!',
    nickname,
    gender: 'unspecified',
    policy_version: policy.version,
    device: { id: `lh-${k}`, model: 'node', os: 'Linux', app_version: 'lh' },
  });
}

const a = await person('Alice');
const b = await person('Bob');
const req = await call('POST', '/api/v1/friend-requests', { to: b.user.id, greeting: 'hi' }, a.token);
await call('POST', `/api/v1/friend-requests/${req.id}/accept`, undefined, b.token);
const conv = await call('POST', '/api/v1/conversations', { kind: 'direct', members: [b.user.id] }, a.token);
for (let i = 0; i < 20; i++) await call('POST', `/api/v1/conversations/${conv.id}/messages`, { client_id: `lh-${i}`, kind: 'text', text: `Message number ${i}: shall we meet at noon?` }, i % 2 ? a.token : b.token);
await call('POST', '/api/v1/moments', { text: 'A walk by the river', media_ids: [], visibility: { kind: 'friends', users: [] } }, b.token);

const cdpPort = await freePort();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tkesj-lh-profile-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [`--remote-debugging-port=${cdpPort}`, '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const page = ctx.pages()[0] ?? (await ctx.newPage());
await page.goto(base + '/');
await page.evaluate((t) => localStorage.setItem('tkesj.token', t), a.token);

const screens = [
  ['chat', `${base}/chats/${conv.id}`],
  ['moments', `${base}/moments`],
];
const sizes = {
  phone: { formFactor: 'mobile', screenEmulation: { mobile: true, width: 412, height: 823, deviceScaleFactor: 1.75, disabled: false } },
  desktop: {
    formFactor: 'desktop',
    screenEmulation: { mobile: false, width: 1350, height: 940, deviceScaleFactor: 1, disabled: false },
    throttling: { rttMs: 40, throughputKbps: 10240, cpuSlowdownMultiplier: 1, requestLatencyMs: 0, downloadThroughputKbps: 0, uploadThroughputKbps: 0 },
  },
};
const rows = [];
for (const [name, url] of screens)
  for (const [size, s] of Object.entries(sizes)) {
    const r = await lighthouse(url, {
      port: cdpPort,
      output: 'json',
      logLevel: 'error',
      disableStorageReset: true,
      onlyCategories: ['performance', 'accessibility', 'best-practices'],
      ...s,
    });
    const lhr = r.lhr;
    if (process.env.LH_JSON_DIR) {
      fs.mkdirSync(process.env.LH_JSON_DIR, { recursive: true });
      fs.writeFileSync(path.join(process.env.LH_JSON_DIR, `${name}-${size}.json`), JSON.stringify(lhr));
    }
    const failed = Object.values(lhr.audits).filter((x) => x.score !== null && x.score < 1 && ['accessibility', 'best-practices'].some((c) => lhr.categories[c].auditRefs.some((ref) => ref.id === x.id)));
    rows.push({
      screen: name,
      size,
      performance: Math.round(lhr.categories.performance.score * 100),
      accessibility: Math.round(lhr.categories.accessibility.score * 100),
      'best-practices': Math.round(lhr.categories['best-practices'].score * 100),
      FCP: lhr.audits['first-contentful-paint'].displayValue,
      LCP: lhr.audits['largest-contentful-paint'].displayValue,
      TBT: lhr.audits['total-blocking-time'].displayValue,
      CLS: lhr.audits['cumulative-layout-shift'].displayValue,
      failing: failed.map((x) => x.id).join(' '),
    });
  }
console.table(rows);

// The first load's JS over the wire, as the binary serves it (brotli): the
// entry script and what index.html preloads. (Lighthouse runs with the
// service worker installed, so its own transfer sizes are those of a repeat
// visit.)
const index = await (await fetch(base + '/')).text();
const scripts = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
let wire = 0;
for (const s of scripts) {
  const r = await fetch(base + s, { headers: { 'Accept-Encoding': 'br' } });
  wire += Number(r.headers.get('content-length'));
  await r.arrayBuffer().catch(() => {});
}
console.log(`first load JS: ${scripts.join(', ')}: ${(wire / 1024).toFixed(1)} KB brotli over the wire`);
await ctx.close();
proc.kill('SIGTERM');
fs.rmSync(dir, { recursive: true, force: true });
fs.rmSync(profile, { recursive: true, force: true });
