// The outbox: every message a person sends is written here (IndexedDB) before
// it goes to the server, and leaves only once the server has it. A send that
// fails for want of a connection stays "waiting" and is sent again, with the
// same client_id, whenever the socket is back (the server answers a repeated
// client_id with the message it already has, so nothing is doubled). A send the
// server answers "busy" (429, 5xx) stays "sending" and goes again by itself
// after a backoff, even while the socket stays open. Messages of a chat go in
// the order they were written: a later one waits while an earlier one does. A
// send the server refuses is "failed": the person may try again or discard it. Pictures
// and files wait here as blobs until they are uploaded. Loaded with the chat
// chunk; items are kept per signed-in person.

import { ApiError, chat, newClientId, upload, type Location, type Message, type NewMessage } from './api';
import { SocketUnavailable, onStatus, request, store } from './realtime';

export interface OutItem {
  client_id: string;
  user: string;
  conv: string;
  created: number;
  /** What the row shows while it waits. */
  label: string;
  kind: NewMessage['kind'];
  text?: string;
  location?: Location;
  /** A file still to upload (kind is decided by what the server says it is). */
  file?: Blob;
  name?: string;
  source?: 'album' | 'camera';
  media_id?: string;
  /** The quoted message's seq, and what the waiting row shows of it. */
  reply_to?: number;
  reply_label?: string;
  mentions?: string[];
  mention_all?: boolean;
  status: 'waiting' | 'sending' | 'failed';
  /** Why it failed: the server's words, kept as text so it survives a reload. */
  error?: string;
  code?: string;
}

const DB = 'tkesj-outbox';
const STORE = 'items';
let dbp: Promise<IDBDatabase | null> | null = null;
// Without IndexedDB (private modes of some browsers) the outbox lives in memory.
const memory = new Map<string, OutItem>();

function db(): Promise<IDBDatabase | null> {
  dbp ??= new Promise((resolve) => {
    try {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'client_id' });
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
  return dbp;
}

function tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | undefined> {
  return db().then(
    (d) =>
      new Promise((resolve) => {
        if (!d) return resolve(undefined);
        const r = f(d.transaction(STORE, mode).objectStore(STORE));
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => resolve(undefined);
      }),
  );
}

async function all(): Promise<OutItem[]> {
  const l = (await tx<OutItem[]>('readonly', (s) => s.getAll() as IDBRequest<OutItem[]>)) ?? [];
  const byId = new Map<string, OutItem>(l.map((x) => [x.client_id, x]));
  for (const [k, v] of memory) byId.set(k, v);
  return [...byId.values()].sort((a, b) => a.created - b.created);
}

async function put(it: OutItem) {
  memory.set(it.client_id, it);
  const ok = await tx('readwrite', (s) => s.put(it));
  if (ok !== undefined) memory.delete(it.client_id);
  changed();
}

/**
 * Writes it back only if it is still in the outbox, in one transaction: another
 * tab may have delivered and removed it meanwhile, and writing it back would
 * make this tab send it again. Answers whether it was written.
 */
async function update(it: OutItem): Promise<boolean> {
  const d = await db();
  if (memory.has(it.client_id) || !d) {
    if (!memory.has(it.client_id)) return false;
    await put(it);
    return true;
  }
  const ok = await new Promise<boolean>((resolve) => {
    try {
      const s = d.transaction(STORE, 'readwrite').objectStore(STORE);
      const g = s.get(it.client_id);
      g.onsuccess = () => {
        if (!g.result) return resolve(false);
        const w = s.put(it);
        w.onsuccess = () => resolve(true);
        w.onerror = () => resolve(false);
      };
      g.onerror = () => resolve(false);
    } catch {
      resolve(false);
    }
  });
  if (ok) changed();
  return ok;
}

async function del(client_id: string) {
  memory.delete(client_id);
  await tx('readwrite', (s) => s.delete(client_id));
  changed();
}

const listeners = new Set<() => void>();
function changed() {
  listeners.forEach((f) => f());
  try {
    bc?.postMessage('changed');
  } catch {
    // another tab will see it on its next read
  }
}
// Other tabs of the same person share the database: tell them when it changes.
const bc = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(DB) : null;
if (bc) bc.onmessage = () => listeners.forEach((f) => f());

export function onOutbox(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** The person's waiting and failed messages for one conversation, oldest first. */
export async function pendingFor(user: string, conv: string): Promise<OutItem[]> {
  // What this tab is sending right now shows as sending, whatever was stored,
  // and so does what waits its turn behind a message the server was too busy
  // to take (the connection is fine; it goes by itself).
  let behindBusy = false;
  return (await all())
    .filter((x) => x.user === user && x.conv === conv)
    .map((x) => {
      const sending = x.status !== 'failed' && (inFlight.has(x.client_id) || x.status === 'sending' || behindBusy);
      if (x.status === 'sending') behindBusy = true;
      return sending ? { ...x, status: 'sending' } : x;
    });
}

let me = '';
/** Names the signed-in person; their waiting messages are sent from now on. */
export function startOutbox(user: string) {
  me = user;
  flush();
}

/** Queues a message and tries to send it now. */
export async function enqueue(it: Omit<OutItem, 'client_id' | 'created' | 'status' | 'user'>): Promise<void> {
  const item: OutItem = { ...it, client_id: newClientId(), created: Date.now(), status: 'waiting', user: me };
  await put(item);
  // Through flush, not straight to the server: an earlier message of the same
  // chat still waiting must go first.
  await flush();
}

const inFlight = new Set<string>();

/** A failure worth waiting out (no connection, server busy) rather than showing as failed. */
function transient(e: unknown) {
  return e instanceof ApiError ? e.status === 0 || e.status === 429 || e.status >= 500 : true;
}

/** The server answered but could not take it now (429, 5xx): the connection is fine. */
function busy(e: unknown) {
  return e instanceof ApiError && (e.status === 429 || e.status >= 500);
}

/**
 * Retries after a temporary failure: the socket staying open, nothing else
 * would send the message again until a reconnect or the next message. The
 * first after a second, doubling to at most a minute, never sooner than the
 * server's Retry-After (capped, so a wrong hint cannot park a message for
 * hours), with some jitter so that many tabs do not come back at once.
 */
const RETRY_FIRST = 1_000;
const RETRY_CAP = 60_000;
const RETRY_HINT_CAP = 5 * 60_000;
let retryTimer: number | undefined;
let retries = 0;
/**
 * Until then, a message the server was too busy to take waits for the retry
 * timer: the next message written (which flushes the outbox) would
 * otherwise send it again at once, ignoring the backoff and Retry-After.
 */
let busyUntil = 0;

function retryLater(e: unknown) {
  const backoff = Math.min(RETRY_CAP, RETRY_FIRST * 2 ** Math.min(retries, 10)) * (0.8 + Math.random() * 0.4);
  retries++;
  const hint = e instanceof ApiError && e.retryAfter !== undefined ? Math.min(e.retryAfter * 1000, RETRY_HINT_CAP) : 0;
  const wait = Math.max(hint, backoff);
  if (busy(e)) busyUntil = Date.now() + wait;
  window.clearTimeout(retryTimer);
  retryTimer = window.setTimeout(() => {
    retryTimer = undefined;
    busyUntil = 0;
    void flush();
  }, wait);
}

/** How a delivery ended: sent (or another tab had sent it), still to send, or refused for good. */
type Outcome = 'sent' | 'waiting' | 'failed';

async function deliver(it: OutItem): Promise<Outcome> {
  if (inFlight.has(it.client_id)) return 'waiting';
  inFlight.add(it.client_id);
  let cur: OutItem = { ...it, status: 'sending', error: undefined, code: undefined };
  changed();
  try {
    if (cur.file && !cur.media_id) {
      const media = await upload(cur.file, cur.name || 'file', cur.source);
      // What the server found the upload to be decides the message kind: a
      // PDF picked with the picture button goes as a file, not as a picture.
      const kind = (['image', 'video', 'voice'].includes(media.kind) ? media.kind : 'file') as NewMessage['kind'];
      cur = { ...cur, media_id: media.id, kind, file: undefined, text: kind === 'file' ? cur.name : undefined };
      // Gone meanwhile: another tab has sent it.
      if (!(await update({ ...cur, status: it.status }))) return 'sent';
    }
    const body: NewMessage = { client_id: cur.client_id, kind: cur.kind };
    if (cur.text !== undefined) body.text = cur.text;
    if (cur.media_id) body.media_id = cur.media_id;
    if (cur.location) body.location = cur.location;
    if (cur.reply_to) body.reply_to = cur.reply_to;
    if (cur.mentions?.length) body.mentions = cur.mentions;
    if (cur.mention_all) body.mention_all = true;
    const m = await sendMessage(cur.conv, body);
    store.merge(cur.conv, [m]);
    await del(cur.client_id);
    retries = 0;
    return 'sent';
  } catch (e) {
    const fail = !transient(e);
    if (!fail) retryLater(e);
    // Written back only if still there: a tab that has delivered it removed it.
    await update({
      ...cur,
      status: fail ? 'failed' : busy(e) ? 'sending' : 'waiting',
      error: fail ? (e instanceof ApiError ? e.detail || e.code : String(e)) : undefined,
      code: e instanceof ApiError ? e.code : undefined,
    });
    return fail ? 'failed' : 'waiting';
  } finally {
    inFlight.delete(cur.client_id);
    changed();
  }
}

/**
 * Sends over the socket when it is open (a "send" frame, answered on it), and
 * over HTTP when it is not or cannot carry it. Both carry the same client_id,
 * so a send whose answer was lost with the socket and then goes again over
 * HTTP is answered with the message already stored, never a second one.
 */
async function sendMessage(conv: string, body: NewMessage): Promise<Message> {
  try {
    const sent = await request({ type: 'send', conversation_id: conv, ...body });
    return sent.message as Message;
  } catch (e) {
    if (e instanceof SocketUnavailable) return chat.send(conv, body);
    throw e;
  }
}

let flushing: Promise<void> | null = null;
let again = false;
/**
 * Sends every waiting message of the signed-in person, oldest first; a chat
 * whose message could not go now sends none of its later ones (they would
 * arrive before it). Called while it runs, it runs once more after.
 */
export function flush(): Promise<void> {
  if (!me) return Promise.resolve();
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    try {
      do {
        again = false;
        const held = new Set<string>();
        for (const it of await all()) {
          if (it.user !== me || it.status === 'failed' || held.has(it.conv)) continue;
          // Refused as busy and its wait not over: it, and what follows it in its chat, wait.
          if (it.status === 'sending' && Date.now() < busyUntil) {
            held.add(it.conv);
            continue;
          }
          if ((await deliver(it)) === 'waiting') held.add(it.conv);
        }
      } while (again);
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}

/** Sends a failed message again (as it is given: a reply may have lost its quote), in its turn. */
export async function retry(it: OutItem) {
  await put({ ...it, status: 'waiting', error: undefined, code: undefined });
  await flush();
}

export function discard(it: OutItem) {
  return del(it.client_id);
}

// The socket is back (its "ready" frame): whatever waited goes now.
onStatus((s) => {
  if (s !== 'open') return;
  // A new socket is a new chance: a busy server's wait does not outlast it.
  busyUntil = 0;
  flush();
});
window.addEventListener('online', () => window.setTimeout(flush, 500));
