// Shared harness of the web client's end-to-end tests (see foundation.test.mjs
// for the conventions): a server on a free port with its own data directory,
// the SMS webhook sink, Chromium, people in browser contexts, screenshots, axe.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const AXE = fileURLToPath(import.meta.resolve('axe-core/axe.min.js'));
export const SHOTS = path.join(HERE, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'Str0ng-Passw0rd!';

/** @type {{ base: string, proc: import('node:child_process').ChildProcess, dir: string, log: string }} */
export let server;
/** @type {import('playwright-core').Browser} */
export let browser;
/** @type {{ server: http.Server, url: string, codes: {phone: string, code: string, purpose: string}[] }} */
export let sms;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/** Records every code the server posts to its SMS webhook. */
async function startSmsSink() {
  const codes = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        const m = JSON.parse(body);
        if (req.method === 'POST' && req.url === '/sms' && m.code) codes.push(m);
      } catch {
        // ignore junk; the test will time out waiting for the code
      }
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = /** @type {net.AddressInfo} */ (srv.address());
  return { server: srv, url: `http://127.0.0.1:${port}/sms`, codes };
}

export const digits = (s) => String(s).replace(/\D/g, '');

/** Waits for a code sent to phone for purpose after the first `since` codes. */
export async function codeFor(phone, purpose, since, timeout = 15_000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const hit = sms.codes.slice(since).find((c) => digits(c.phone) === digits(phone) && c.purpose === purpose);
    if (hit) return hit.code;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${purpose} code for ${phone} reached the SMS webhook in ${timeout} ms; got ${JSON.stringify(sms.codes)}`);
}

/**
 * Starts a tkesj server with its own data directory. `listen` is the address
 * it binds (the answer's `base` is always 127.0.0.1): a test that must reach
 * it from another network binds `[::]` and comes over IPv6 (http://[::1]:port).
 */
export async function startServer({ listen = '127.0.0.1' } = {}) {
  const bin = process.env.TKESJ_BIN;
  assert.ok(bin, 'set TKESJ_BIN to a built tkesj binary, e.g. `go build -o /tmp/tkesj ./cmd/tkesj`');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tkesj-e2e-'));
  const port = await freePort();
  const log = path.join(dir, 'server.log');
  const out = fs.openSync(log, 'a');
  const proc = spawn(bin, ['serve', '--addr', `${listen}:${port}`, '--data', path.join(dir, 'data'), '--sms-webhook', sms.url, ...serverArgs], {
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited = null;
  proc.on('exit', (code, signal) => (exited = { code, signal }));
  const base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`tkesj exited early (${JSON.stringify(exited)}):\n${fs.readFileSync(log, 'utf8').slice(-4000)}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`tkesj did not answer /healthz within 60 s:\n${fs.readFileSync(log, 'utf8').slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { base, proc, dir, log };
}

async function stopServer(srv = server) {
  if (!srv) return;
  const { proc } = srv;
  if (proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}

/** Stops a server started with startServer() (the shared one stops by itself). */
export async function stopOtherServer(srv) {
  await stopServer(srv);
  fs.rmSync(srv.dir, { recursive: true, force: true });
}

/** Extra `tkesj serve` flags for this file's server (set before the hooks run). */
export const serverArgs = [];

/** Extra Chromium flags for this file's browser (set before the hooks run). */
export const launchArgs = [];

before(async () => {
  sms = await startSmsSink();
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // launch() gives every run a fresh temporary profile (user-data dir).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...launchArgs],
  });
  fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await stopServer();
  await new Promise((r) => (sms ? sms.server.close(r) : r()));
  if (server) {
    if (process.exitCode) console.error(`server log kept at ${server.log}`);
    else fs.rmSync(server.dir, { recursive: true, force: true });
  }
});

/** Collects a page's errors and Content-Security-Policy violations, which must never happen. */
function watchProblems(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  return problems;
}

/**
 * A browser context as a person in English would have; collects page errors and
 * Content-Security-Policy violations, which must never happen.
 */
export async function newPerson() {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 360, height: 800 }, acceptDownloads: true });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  return { context, page, problems: watchProblems(page) };
}

/**
 * A browser context signed in with the person's token (set once per tab, so
 * a test may sign out in it), at phone width unless told; `lang` is the
 * app's language setting, `locale` the browser's.
 */
export async function signedIn(who, { width = 360, height = 780, locale = 'en-US', lang, hasTouch = false, acceptDownloads = false } = {}) {
  const context = await browser.newContext({ locale, viewport: { width, height }, hasTouch, acceptDownloads });
  context.setDefaultTimeout(15_000);
  await context.addInitScript(
    ([tok, l]) => {
      if (!sessionStorage.getItem('e2e.init')) {
        localStorage.setItem('tkesj.token', tok);
        if (l) localStorage.setItem('tkesj.lang', l);
        sessionStorage.setItem('e2e.init', '1');
      }
    },
    [who.token, lang ?? ''],
  );
  const page = await context.newPage();
  return { context, page, problems: watchProblems(page) };
}

/** A browser context of someone not signed in (page errors are collected). */
export async function signedOut({ locale = 'en-US', width = 360 } = {}) {
  const context = await browser.newContext({ locale, viewport: { width, height: 780 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { context, page, problems };
}

/** A live region with something in it (the app's notices). */
export const status = (page) => page.getByRole('status').filter({ hasText: /\S/ });

/** An open conversation's message list. */
export const log = (page) => page.getByRole('log');

/** Opens a conversation by its id and waits for its messages. */
export async function openChat(page, conv) {
  await page.goto(`${server.base}/chats/${encodeURIComponent(conv)}`);
  await log(page).waitFor();
}

/** Waits until the locator's text matches re, and answers the text. */
export async function textMatches(locator, re, timeout = 15_000) {
  const end = Date.now() + timeout;
  let last = '';
  for (;;) {
    last = (await locator.first().textContent({ timeout }).catch(() => '')) ?? '';
    if (re.test(last)) return last;
    if (Date.now() > end) throw new Error(`text ${JSON.stringify(last)} never matched ${re}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function until(what, f, timeout = 15_000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await f()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Screenshots at phone and desktop widths. The viewport grows to the page's
 * height rather than using fullPage, so the sticky tab bar shows where a person
 * sees it: at the bottom.
 */
export async function shots(page, name) {
  for (const width of [360, 1280]) {
    const min = width === 360 ? 800 : 900;
    await page.setViewportSize({ width, height: min });
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width, height: Math.max(min, height) });
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`) });
  }
  await page.setViewportSize({ width: 360, height: 800 });
}

export const alert = (page) => page.getByRole('alert').filter({ hasText: /\S/ });

/** Fills the registration form; leaves submitting to the caller. */
export async function fillRegistration(page, p) {
  await page.goto(`${server.base}/register`);
  await page.getByRole('heading', { name: 'Create account' }).waitFor();
  await page.getByLabel('Mobile phone number').fill(p.phone);
  const since = sms.codes.length;
  await page.getByRole('button', { name: 'Send code' }).click();
  await textMatches(page.getByRole('status').filter({ hasText: /\S/ }), /code was sent/);
  await page.getByLabel('Verification code').fill(await codeFor(p.phone, 'register', since));
  await page.getByLabel('Username').fill(p.username);
  await page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
  await page.getByLabel('Nickname').fill(p.nickname);
  await page.getByLabel('Gender').selectOption(p.gender);
  // The policy is shown in full, in its own scrollable region.
  await textMatches(page.getByRole('region', { name: /Privacy policy/ }), /personal information/);
  await page.getByLabel('I have read and accept the privacy policy').check();
}

export async function register(page, p) {
  await fillRegistration(page, p);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/me');
  await page.getByText(p.nickname, { exact: true }).waitFor();
}

/** A link of the main tab bar: Chats, Contacts, Moments, Me. */
export const tab = (page, name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

export async function openFromMe(page, item) {
  await tab(page, 'Me').click();
  await page.getByRole('link', { name: item }).click();
  await page.getByRole('heading', { name: item, level: 1 }).waitFor();
}

/** Runs axe-core (WCAG 2 A and AA rules) on the page; answers readable violations. */
export async function axeViolations(page, where) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(() =>
    // @ts-ignore axe is the global the script tag defines
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  return res.violations.map(
    (v) => `${where}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`,
  );
}

/**
 * Registers a person through the API, for set-ups that are not what a test
 * is about; answers {user, token, call(method, path, body)}.
 */
export async function apiRegister(u) {
  const since = sms.codes.length;
  const post = (p, body, token) =>
    fetch(`${server.base}${p}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  await post('/api/v1/verification-codes', { phone: u.phone, purpose: 'register' });
  const code = await codeFor(u.phone, 'register', since);
  const policy = await (await fetch(`${server.base}/api/v1/policy`)).json();
  const res = await post('/api/v1/accounts', {
    phone: u.phone,
    code,
    username: u.username,
    password: PASSWORD,
    nickname: u.nickname,
    gender: 'unspecified',
    policy_version: policy.version,
    device: { id: `api-${u.username}`, model: 'node', os: 'Linux', app_version: 'e2e' },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const j = await res.json();
  const call = async (method, p, body) => {
    const r = await fetch(`${server.base}${p}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${j.token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(r.ok, `${method} ${p}: ${r.status} ${await r.clone().text()}`);
    return r.status === 204 ? null : r.json();
  };
  return { ...j, call };
}

/**
 * A maker of people registered through the API, each with a unique phone
 * (+86, the prefix, a number, 00) and username (tag_nick_number), for a test
 * file whose prefix no other file uses.
 */
export function people(phonePrefix, tag) {
  let n = 0;
  return (nick) => {
    n++;
    const k = String(n).padStart(3, '0');
    return apiRegister({ phone: `+86${phonePrefix}${k}00`, username: `${tag}_${nick.toLowerCase().replace(/\W/g, '')}_${k}`, nickname: nick });
  };
}

/** Makes two people friends through the API (a request and its acceptance, unless it was accepted at once). */
export async function befriend(x, y) {
  const req = await x.call('POST', '/api/v1/friend-requests', { to: y.user.id, greeting: 'hi' });
  if (req.status !== 'accepted') await y.call('POST', `/api/v1/friend-requests/${req.id}/accept`);
}

/** Two friends' direct conversation, made (or found) through the API; answers its id. */
export async function direct(x, y) {
  return (await x.call('POST', '/api/v1/conversations', { kind: 'direct', members: [y.user.id] })).id;
}

/** Sends a message as `who` through the API (a text unless `extra` says otherwise). */
export const send = (who, conv, text, extra = {}) =>
  who.call('POST', `/api/v1/conversations/${conv}/messages`, { client_id: `api-${Math.random().toString(36).slice(2)}`, kind: 'text', text, ...extra });

/** A real PNG of the given size (a screenshot of a coloured page). */
export async function pngBytes(w = 320, h = 480, color = '#2a7') {
  const ctx = await browser.newContext({ viewport: { width: w, height: h } });
  const page = await ctx.newPage();
  await page.setContent(`<body style="margin:0;background:${color}"></body>`);
  const buf = await page.screenshot();
  await ctx.close();
  return buf;
}
