// Real time: one WebSocket per tab, reconnecting with exponential back-off
// (1 s doubling to 30 s, with jitter). Every "message" frame is acknowledged
// as delivered. After each (re)connect the "ready" frame names the
// conversations with messages this person has not acknowledged; those, and
// every conversation this tab already holds, are pulled by after_seq, so
// nothing missed while the socket was down is lost. Messages are kept per
// conversation sorted by seq and de-duplicated by seq (and id), so a message
// that arrives both by socket and by a pull shows once.
//
// Requests (issue 17): a "send" frame asks the server to store a message, as
// POST /conversations/{id}/messages would, and is answered on the socket by a
// "sent" frame (or an "error" frame) with the same id; request() pairs them.

import { ApiError, api, chat, token, type Message } from './api';

export type Frame = { type: string; [k: string]: any };
type Listener = (f: Frame) => void;

const frameListeners = new Set<Listener>();
/** Subscribes to every server frame (plus the client's own "sync" event after a catch-up). */
export function onFrame(f: Listener): () => void {
  frameListeners.add(f);
  return () => frameListeners.delete(f);
}
function emit(f: Frame) {
  frameListeners.forEach((l) => {
    try {
      l(f);
    } catch (e) {
      console.warn('frame listener failed', e);
    }
  });
}

let ws: WebSocket | null = null;
let attempt = 0;
let retryTimer: number | undefined;
let pingTimer: number | undefined;
let running = false;
let status: 'connecting' | 'open' | 'offline' = 'offline';
const statusListeners = new Set<(s: typeof status) => void>();

export function connectionStatus() {
  return status;
}
export function onStatus(f: (s: typeof status) => void): () => void {
  statusListeners.add(f);
  return () => statusListeners.delete(f);
}
function setStatus(s: typeof status) {
  status = s;
  statusListeners.forEach((f) => f(s));
}

/** The delay before reconnect attempt n (0-based): 1, 2, 4 … 30 s, ±20 %. */
export function backoff(n: number): number {
  const base = Math.min(30_000, 1000 * 2 ** n);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export function startRealtime(): void {
  if (running) return;
  running = true;
  attempt = 0;
  connect();
}

export function stopRealtime(): void {
  running = false;
  window.clearTimeout(retryTimer);
  window.clearInterval(pingTimer);
  const s = ws;
  ws = null;
  s?.close(1000, 'bye');
  abandonRequests();
  // Signed out: what waited to be acknowledged or read is no longer ours.
  for (const p of positions.values()) window.clearTimeout(p.timer);
  positions.clear();
  store.clear();
  setStatus('offline');
}

let connecting = false;

function connect() {
  if (!running || !token() || connecting) return;
  setStatus('connecting');
  // The token stays out of the URL (proxies and logs keep URLs): a
  // single-use ticket, asked for with the token in a header, opens the socket.
  connecting = true;
  api.wsTicket().then(
    (r) => {
      connecting = false;
      if (!running || !token() || ws) return;
      open(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws?ticket=${encodeURIComponent(r.ticket)}`);
    },
    () => {
      // Offline, or a dead token (which went through the signed-out handler).
      connecting = false;
      setStatus('offline');
      schedule();
    },
  );
}

function open(url: string) {
  let sock: WebSocket;
  try {
    sock = new WebSocket(url);
  } catch {
    schedule();
    return;
  }
  ws = sock;
  sock.onmessage = (e) => {
    // A socket dropped on going offline may still deliver what it had: the
    // next socket's ready frame and catch-up cover it, and a late "ready"
    // here would mark the tab online with no socket.
    if (ws !== sock) return;
    let f: Frame;
    try {
      f = JSON.parse(String(e.data));
    } catch {
      return;
    }
    if (!f || typeof f.type !== 'string') return;
    handle(f, sock);
  };
  sock.onclose = (e) => {
    if (!drop(sock)) return;
    if (!running) return;
    // 4001: this device was signed out. Asking who we are goes through the
    // signed-out handler; anything else is a reason to try again later.
    if (e.code === 4001) {
      window.setTimeout(() => running && token() && api.me().catch(() => {}), 500);
      return;
    }
    // 1012: the node is draining; reconnect at once (the proxy picks another).
    if (e.code === 1012) {
      attempt = 0;
      connect();
      return;
    }
    schedule();
  };
  sock.onerror = () => {
    // onclose follows and schedules the retry.
  };
}

/**
 * Forgets sock at once and returns the client to offline; false when it was
 * not the current socket. A socket closed while the network is gone may
 * report its close only seconds later: the client must not wait for that
 * before it can open the next one.
 */
function drop(sock: WebSocket): boolean {
  if (ws !== sock) return false;
  ws = null;
  abandonRequests();
  window.clearInterval(pingTimer);
  setStatus('offline');
  return true;
}

function schedule() {
  window.clearTimeout(retryTimer);
  if (!running) return;
  const d = backoff(attempt++);
  retryTimer = window.setTimeout(connect, d);
}

/**
 * Why request() did not get an answer from the socket: it was not open, it
 * closed first, the answer was too slow, the frame too large for the
 * server's read limit, or the socket itself refused the frame (its frame
 * rate). The caller sends over HTTP instead.
 */
export class SocketUnavailable extends Error {}

/** The server reads frames of at most 64 KiB (API.md); a larger one would close the socket. */
const MAX_FRAME = 64 << 10;
const REQUEST_TIMEOUT = 15_000;
/**
 * After the socket refuses a frame for its rate (20 a second, API.md),
 * requests go over HTTP for this long: ten refusals in a row would close the
 * socket, and a long outbox flushing after a reconnect is the likely cause.
 */
const RATE_PAUSE = 2_000;
let requestsPausedUntil = 0;
/**
 * Requests also keep to a budget of their own, half the socket's rate (10 a
 * second, burst 20), leaving the rest to acks, reads and typing; beyond it
 * they go over HTTP at once.
 */
const REQUEST_RATE = 10;
const REQUEST_BURST = 20;
let requestTokens = REQUEST_BURST;
let requestTokensAt = 0;

function takeRequestToken(): boolean {
  const now = Date.now();
  requestTokens = Math.min(REQUEST_BURST, requestTokens + ((now - requestTokensAt) / 1000) * REQUEST_RATE);
  requestTokensAt = now;
  if (requestTokens < 1) return false;
  requestTokens--;
  return true;
}
let requestSeq = 0;
const requests = new Map<string, { resolve: (f: Frame) => void; reject: (e: Error) => void; timer: number }>();

/**
 * Sends a request frame and resolves with its answer. It rejects with
 * SocketUnavailable when the socket cannot carry it (see there), and with the
 * ApiError HTTP would have thrown when the server refused the request; for
 * the refusals HTTP acts on by itself (a dead session, a policy to accept),
 * it rejects with SocketUnavailable, so that the HTTP call runs them. A
 * server too busy to take it (5xx, like 429) is an ApiError too: going
 * straight to HTTP would put a second request on a server that has just
 * said it cannot take one; the caller waits and tries again (the outbox
 * backs off).
 */
export function request(f: Frame): Promise<Frame> {
  const id = `r${++requestSeq}`;
  const text = JSON.stringify({ ...f, id });
  if (
    !ws ||
    ws.readyState !== WebSocket.OPEN ||
    status !== 'open' ||
    Date.now() < requestsPausedUntil ||
    new TextEncoder().encode(text).length > MAX_FRAME ||
    !takeRequestToken()
  ) {
    return Promise.reject(new SocketUnavailable('socket not open'));
  }
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(() => {
      requests.delete(id);
      reject(new SocketUnavailable('no answer in time'));
    }, REQUEST_TIMEOUT);
    requests.set(id, { resolve, reject, timer });
    ws!.send(text);
  });
}

/** Settles the request f answers; reports whether f was such an answer. */
function answer(f: Frame): boolean {
  const r = typeof f.id === 'string' ? requests.get(f.id) : undefined;
  if (!r || (f.type !== 'sent' && f.type !== 'error')) return false;
  requests.delete(f.id);
  window.clearTimeout(r.timer);
  const p = f.error as { status?: number; code?: string; detail?: string } | undefined;
  if (f.type === 'error' && f.code === 'rate_limited' && !p) requestsPausedUntil = Date.now() + RATE_PAUSE;
  if (f.type === 'sent') r.resolve(f);
  else if (!p || typeof p.status !== 'number' || p.status === 401 || p.code === 'policy_acceptance_required') {
    r.reject(new SocketUnavailable(String(f.code ?? 'refused by the socket')));
  } else {
    r.reject(new ApiError(p.status, p.code ?? String(f.code ?? ''), p.detail ?? '', typeof f.retry_after === 'number' ? f.retry_after : undefined));
  }
  return true;
}

/** Fails every request still waiting: the socket they went on is gone. */
function abandonRequests() {
  for (const [id, r] of requests) {
    window.clearTimeout(r.timer);
    r.reject(new SocketUnavailable('socket closed'));
    requests.delete(id);
  }
}

/**
 * Sends a frame if the socket is open; answers whether it was sent (or, for
 * a read, will be: see coalesced).
 */
export function sendFrame(f: Frame): boolean {
  if (f.type === 'read' && typeof f.conversation_id === 'string' && typeof f.seq === 'number') {
    const conv = f.conversation_id;
    return coalesced('read', conv, f.seq, (seq) => void chat.read(conv, seq).catch(() => {}));
  }
  return sendNow(f);
}

function sendNow(f: Frame): boolean {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(f));
    return true;
  }
  return false;
}

/**
 * Acks and reads only move a position forward, so they are coalesced: while
 * one for a conversation went out less than COALESCE ms ago, the next waits
 * for the rest of that time and then carries the highest seq asked for
 * meanwhile. A burst of messages (an outbox flushing after a reconnect, a
 * busy group) then costs a few frames of the socket's 20 a second, not two
 * per message, and the socket is not closed for going over its rate.
 */
const COALESCE = 300;
const positions = new Map<string, { at: number; seq: number; timer?: number }>();

/**
 * Sends type (ack or read) for conv at seq now or once COALESCE has passed;
 * answers false when the socket is not open (nothing was sent or queued).
 * A queued one whose socket has closed by then goes to gone instead.
 */
function coalesced(type: 'ack' | 'read', conv: string, seq: number, gone: (seq: number) => void): boolean {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  const key = `${type} ${conv}`;
  const p = positions.get(key) ?? { at: 0, seq: 0 };
  positions.set(key, p);
  p.seq = Math.max(p.seq, seq);
  if (p.timer !== undefined) return true;
  const fire = () => {
    p.timer = undefined;
    p.at = Date.now();
    if (!sendNow({ type, conversation_id: conv, seq: p.seq })) gone(p.seq);
  };
  const wait = p.at + COALESCE - Date.now();
  if (wait <= 0) fire();
  else p.timer = window.setTimeout(fire, wait);
  return true;
}

// Offline: the socket is dead even if the browser has not noticed yet; close
// it so the catch-up runs on the next ready frame.
window.addEventListener('offline', () => {
  const s = ws;
  if (!s) return;
  // Dropped now, not when the browser reports the close (with no network
  // that can take longer than the outage): coming back online then opens a
  // new socket at once instead of finding the dead one still "current".
  drop(s);
  s.close(4000, 'offline');
  schedule();
});

// Back online: try at once instead of waiting out the back-off.
window.addEventListener('online', () => {
  if (running && !ws) {
    attempt = 0;
    window.clearTimeout(retryTimer);
    connect();
  }
});

function ack(convId: string, seq: number) {
  const prev = store.acked.get(convId) ?? 0;
  if (seq <= prev) return;
  // An ack lost with its socket is not news: the next ready frame names the
  // conversation again, and its pull acknowledges it.
  if (coalesced('ack', convId, seq, () => store.acked.delete(convId))) store.acked.set(convId, seq);
}

function handle(f: Frame, sock: WebSocket) {
  if (answer(f)) return;
  switch (f.type) {
    case 'ready':
      attempt = 0;
      setStatus('open');
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(() => sendFrame({ type: 'ping' }), 25_000);
      catchUp(f, sock);
      break;
    case 'message': {
      const m = f.message as Message;
      const id = (f.conversation_id as string) || m.conversation_id || '';
      if (id && m && typeof m.seq === 'number') {
        const before = store.has(id) ? store.maxSeq(id) : 0;
        store.merge(id, [m]);
        // A gap before it (a frame lost when a node died between storing a
        // message and publishing it): pull the gap before acknowledging
        // past it, or that message would never show in the open chat.
        if (before > 0 && m.seq > before + 1) void fillGap(id, before);
        else ack(id, m.seq);
      }
      break;
    }
    case 'recall':
      store.patch(f.conversation_id, f.seq, { recalled: true, text: undefined, media: undefined, location: undefined });
      break;
  }
  emit(f);
}

/**
 * Pulls a conversation's messages after a seq, merges and acknowledges them.
 * Only the server's answer counts: the service worker's offline copy of the
 * same pull (kept from an earlier one, so older) would look like "nothing
 * new" and end the catch-up with the missed messages still missing.
 */
async function pull(id: string, after: number): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const { messages } = await chat.messages(id, { after_seq: after, limit: 100 }, true);
    if (!messages?.length) break;
    store.merge(id, messages);
    after = messages[messages.length - 1].seq;
    ack(id, after);
    if (messages.length < 100) break;
  }
}

async function fillGap(id: string, after: number) {
  try {
    await pull(id, after);
  } catch {
    return; // unacknowledged: the next ready frame names the conversation again
  }
  emit({ type: 'sync' });
}

/**
 * Pulls what the ready frame of sock names, and every conversation this tab
 * holds, after what the tab has. The socket brings only what is published
 * after it opened, so a pull that fails (the network still settling as the
 * tab comes back online, the server busy) is tried again, after the
 * back-off, for as long as sock is this tab's socket; otherwise a message
 * stored while the tab was away would show only after the next reconnect.
 */
async function catchUp(ready: Frame, sock: WebSocket) {
  let pending = new Map<string, number>();
  for (const c of (ready.conversations ?? []) as { id: string; received_seq?: number }[]) pending.set(c.id, c.received_seq ?? 0);
  // Conversations this tab holds may have been acknowledged by another tab or
  // device while this socket was down: pull those after what we have, too.
  for (const id of store.loaded()) pending.set(id, Math.min(pending.get(id) ?? Infinity, store.maxSeq(id)));
  for (let n = 0; ; n++) {
    const failed = new Map<string, number>();
    await Promise.all(
      [...pending].map(([id, after]) =>
        pull(id, after).catch((e) => {
          // Gone from the conversation, say: trying again would not help.
          if (!(e instanceof ApiError) || e.status === 0 || e.status === 429 || e.status >= 500) failed.set(id, after);
        }),
      ),
    );
    emit({ type: 'sync' });
    if (!failed.size) return;
    await new Promise((r) => window.setTimeout(r, backoff(n)));
    // A new socket's ready frame starts a catch-up of its own.
    if (ws !== sock || !running) return;
    pending = failed;
  }
}

type ConvListener = () => void;

/** Messages held by this tab, per conversation, ascending by seq, one per seq. */
class MessageStore {
  private byConv = new Map<string, Message[]>();
  private listeners = new Map<string, Set<ConvListener>>();
  /** Conversations whose oldest message is known to be loaded. */
  readonly complete = new Set<string>();
  readonly acked = new Map<string, number>();

  clear() {
    this.byConv.clear();
    this.complete.clear();
    this.acked.clear();
  }
  loaded(): string[] {
    return [...this.byConv.keys()];
  }
  has(id: string) {
    return this.byConv.has(id);
  }
  get(id: string): Message[] {
    return this.byConv.get(id) ?? [];
  }
  maxSeq(id: string): number {
    const l = this.byConv.get(id);
    return l && l.length ? l[l.length - 1].seq : 0;
  }
  minSeq(id: string): number {
    const l = this.byConv.get(id);
    return l && l.length ? l[0].seq : 0;
  }
  /** Adds messages, replacing any held one with the same seq or id. */
  merge(id: string, msgs: Message[]) {
    const cur = this.byConv.get(id) ?? [];
    const bySeq = new Map<number, Message>();
    for (const m of cur) bySeq.set(m.seq, m);
    let changed = !this.byConv.has(id);
    for (const m of msgs) {
      if (typeof m?.seq !== 'number') continue;
      const old = bySeq.get(m.seq);
      // A recall seen earlier by socket wins over an older copy from a page.
      if (old && old.recalled && !m.recalled) continue;
      if (old && JSON.stringify(old) === JSON.stringify(m)) continue;
      bySeq.set(m.seq, m);
      changed = true;
    }
    if (!changed) return;
    const ids = new Set<string>();
    const next = [...bySeq.values()]
      .sort((a, b) => a.seq - b.seq)
      .filter((m) => (m.id && ids.has(m.id) ? false : (ids.add(m.id), true)));
    this.byConv.set(id, next);
    this.notify(id);
  }
  /**
   * Starts a conversation over from a fresh page (older pages load again on
   * scroll). The page covers seqs up to `upTo`; messages held beyond it came
   * by socket or from the outbox while the page was on its way, and stay:
   * a message sent just as the chat opened would otherwise vanish from it.
   */
  replace(id: string, msgs: Message[], upTo = Infinity) {
    this.byConv.set(id, (this.byConv.get(id) ?? []).filter((m) => m.seq > upTo));
    this.complete.delete(id);
    this.merge(id, msgs);
    this.notify(id);
  }
  patch(id: string, seq: number, p: Partial<Message>) {
    const l = this.byConv.get(id);
    if (!l) return;
    const i = l.findIndex((m) => m.seq === seq);
    if (i < 0) return;
    const next = l.slice();
    next[i] = { ...l[i], ...p };
    this.byConv.set(id, next);
    this.notify(id);
  }
  remove(id: string, seq: number) {
    const l = this.byConv.get(id);
    if (!l) return;
    this.byConv.set(
      id,
      l.filter((m) => m.seq !== seq),
    );
    this.notify(id);
  }
  subscribe(id: string, f: ConvListener): () => void {
    let s = this.listeners.get(id);
    if (!s) this.listeners.set(id, (s = new Set()));
    s.add(f);
    return () => s!.delete(f);
  }
  private notify(id: string) {
    this.listeners.get(id)?.forEach((f) => f());
  }
}

export const store = new MessageStore();

/** Tells this tab's listeners (the unread badge) that a conversation was read here. */
export function notifyRead(convId: string) {
  emit({ type: 'read', conversation_id: convId });
}

/** Acknowledges messages pulled by a page load (the server ignores old seqs). */
export function ackLoaded(id: string) {
  const s = store.maxSeq(id);
  if (s) ack(id, s);
}
