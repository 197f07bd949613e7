// The service worker (R-NTF-3): Web Push notifications, and the offline shell.
// Built apart from the app by build/pwa.mjs (esbuild, one classic script at
// /sw.js) with __PRECACHE__, the files of this build, and __VERSION__.
//
// Offline: the shell and every chunk are cached at install; pages fall back to
// the cached index.html; a few read-only API answers (who I am, my chats and
// their messages, contacts) are kept as they were last fetched, so chats can
// be read without a network. Nothing is ever written through the cache: sends
// fail offline as before. The page deletes the API cache whenever the signed-in
// person changes (api.ts setToken).

declare const __PRECACHE__: string[];
declare const __VERSION__: string;

// The DOM typings do not describe a service worker's global scope; these few
// shapes are what this file uses.
type Clientish = { url: string; focused?: boolean; visibilityState?: string; focus?: () => Promise<unknown>; navigate?: (u: string) => Promise<unknown>; postMessage: (m: unknown) => void };
interface SW {
  registration: ServiceWorkerRegistration;
  clients: {
    matchAll(o: { type: 'window'; includeUncontrolled: boolean }): Promise<Clientish[]>;
    openWindow(url: string): Promise<unknown>;
    claim(): Promise<void>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: string, f: (e: any) => void): void;
  location: Location;
}
const sw = self as unknown as SW;

const SHELL = `tkesj-shell-${__VERSION__}`;
const API = 'tkesj-api';
const PREFS = 'tkesj-prefs';

sw.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(SHELL)
      .then((c) => c.addAll(__PRECACHE__))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('tkesj-shell-') && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

/** API reads kept for offline reading. Only GETs; only these. */
const OFFLINE_API = [
  /^\/api\/v1\/me$/,
  /^\/api\/v1\/me\/settings$/,
  /^\/api\/v1\/contacts$/,
  /^\/api\/v1\/conversations$/,
  /^\/api\/v1\/conversations\/[^/]+$/,
  /^\/api\/v1\/conversations\/[^/]+\/messages$/,
];

async function networkFirst(req: Request): Promise<Response> {
  try {
    const res = await fetch(req);
    if (res.ok) {
      const copy = res.clone();
      caches.open(API).then((c) => c.put(req.url, copy)).catch(() => {});
    }
    return res;
  } catch (err) {
    const hit = await caches.match(req.url, { cacheName: API });
    if (hit) {
      const h = new Headers(hit.headers);
      h.set('X-Tkesj-Offline', '1');
      return new Response(hit.body, { status: hit.status, headers: h });
    }
    throw err;
  }
}

sw.addEventListener('fetch', (e) => {
  const req: Request = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  if (url.pathname.startsWith('/api/')) {
    if (OFFLINE_API.some((re) => re.test(url.pathname)) && req.headers.has('Authorization')) e.respondWith(networkFirst(req));
    return;
  }
  if (req.mode === 'navigate') {
    // Always the newest page when online; the cached shell when not.
    e.respondWith(fetch(req).catch(() => caches.match('/', { cacheName: SHELL }).then((r) => r ?? Response.error())));
    return;
  }
  e.respondWith(caches.match(req, { cacheName: SHELL }).then((r) => r ?? fetch(req)));
});

// ---- Push ----

interface PushPayload {
  type?: string;
  conversation_id?: string;
  seq?: number;
  title?: string;
  body?: string;
  /** Whether body is the message's text (the person's "show text" setting). */
  preview?: boolean;
}

/** The interface language the page last used (it writes it for us). */
async function lang(): Promise<string> {
  try {
    const r = await caches.match('/__prefs', { cacheName: PREFS });
    if (r) return ((await r.json()) as { lang?: string }).lang ?? 'en';
  } catch {
    // fall through
  }
  return (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

const WORDS = {
  en: { message: 'sent you a message', app: 'tkesj', newMessage: 'New message' },
  zh: { message: '给你发来一条消息', app: 'tkesj', newMessage: '新消息' },
};

/** What a push shows: the sender, and the text only when the person chose previews. */
export async function notificationFor(p: PushPayload): Promise<{ title: string; options: NotificationOptions }> {
  const w = WORDS[(await lang()) === 'zh' ? 'zh' : 'en'];
  const url = p.conversation_id ? `/chats/${encodeURIComponent(p.conversation_id)}` : '/chats';
  const title = p.title || w.newMessage;
  const body = p.preview && p.body ? p.body : w.message;
  return {
    title,
    options: {
      body,
      tag: p.conversation_id ? `chat-${p.conversation_id}` : 'tkesj',
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { url, conversation_id: p.conversation_id ?? '', seq: p.seq ?? 0 },
    },
  };
}

sw.addEventListener('push', (e) => {
  let p: PushPayload = {};
  try {
    p = e.data ? (e.data.json() as PushPayload) : {};
  } catch {
    p = {};
  }
  e.waitUntil(
    (async () => {
      // A tab showing this very chat already has the message: no notification.
      const wins = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const url = p.conversation_id ? `/chats/${encodeURIComponent(p.conversation_id)}` : '';
      if (url && wins.some((c) => c.visibilityState === 'visible' && c.focused && new URL(c.url).pathname === url)) return;
      const n = await notificationFor(p);
      await sw.registration.showNotification(n.title, n.options);
    })(),
  );
});

/** Opens the chat: in a tab of ours if there is one, else a new window. */
async function openChat(url: string): Promise<void> {
  const wins = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const win = wins.find((c) => new URL(c.url).origin === sw.location.origin);
  if (win) {
    // The page routes itself (no reload); focusing may be refused when the
    // click did not come from the person, which changes nothing else.
    win.postMessage({ type: 'open', url });
    await win.focus?.().catch(() => {});
    return;
  }
  await sw.clients.openWindow(url);
}

sw.addEventListener('notificationclick', (e) => {
  const n: Notification = e.notification;
  n.close();
  const url = (n.data as { url?: string } | null)?.url ?? '/chats';
  const done = openChat(url);
  try {
    e.waitUntil(done);
  } catch {
    // an event dispatched by script (tests) cannot be extended; the work goes on
  }
});
