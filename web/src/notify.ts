// Notifications (R-NTF-3): the service worker, the Web Push subscription,
// the unread count in the tab's title and favicon, and an optional sound.
//
// Push: once the person allows notifications (a click on "Allow
// notifications"; the browser asks), the grant is recorded in the consent
// ledger (PUT /me/permissions/notifications), then this device subscribes with
// the server's VAPID key and hands the subscription to the server. The server
// pushes only what the person's settings allow (push off, muted chats, text
// previews: R-NTF-2); the service worker words it (src/sw.ts). Turning
// notifications off here records the withdrawal, which drops the subscriptions.

import { api, deviceId, token } from './api';
import { lang } from './i18n';
import { onFrame } from './realtime';
import { navigate } from './router';

const NOTIFY_KEY = 'tkesj.notify'; // "on" once the person allowed notifications here
const SOUND_KEY = 'tkesj.sound'; // "on" for a sound on new messages

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function store(key: string, v: string | null) {
  try {
    if (v === null) localStorage.removeItem(key);
    else localStorage.setItem(key, v);
  } catch {
    // storage disabled: the choice lasts for this page
  }
}

export const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

/** Registers /sw.js (the offline shell and push) and follows its "open this chat" requests. */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    const d = e.data as { type?: string; url?: unknown } | null;
    if (d?.type === 'open' && typeof d.url === 'string' && /^\/chats(\/[^/]+)?$/.test(d.url)) navigate(d.url);
  });
  // Once the page has loaded, and then when the main thread is idle: a new
  // worker fetches every asset for the offline shell, which the first
  // screen's own requests and rendering should not wait behind.
  afterLoad(() => {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      // no worker in dev (vite serves no /sw.js) or a browser that refuses: the app works without
    });
    rememberLang(true);
  });
}

function afterLoad(f: () => void): void {
  const idle = () => (window.requestIdleCallback ? window.requestIdleCallback(() => f(), { timeout: 5000 }) : window.setTimeout(f, 200));
  if (document.readyState === 'complete') idle();
  else window.addEventListener('load', idle, { once: true });
}

const LANG_KEY = 'tkesj.swLang'; // the language last handed to the service worker

/**
 * Tells the service worker the interface language, for the words of a
 * text-free notification. At start (ifChanged) only when it is not the one
 * this browser last handed over.
 */
export function rememberLang(ifChanged = false): void {
  const l = lang();
  if (ifChanged && stored(LANG_KEY) === l) return;
  try {
    window.caches
      ?.open('tkesj-prefs')
      .then((c) => c.put('/__prefs', new Response(JSON.stringify({ lang: l }), { headers: { 'Content-Type': 'application/json' } })))
      .then(() => store(LANG_KEY, l))
      .catch(() => {});
  } catch {
    // no Cache Storage
  }
}

function keyBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Subscribes this device (permission already granted) and tells the server. */
async function subscribe(): Promise<void> {
  const reg = await navigator.serviceWorker.ready;
  const { public_key } = await api.pushKey();
  let sub = await reg.pushManager.getSubscription();
  if (sub) {
    // A subscription made with another server key cannot be used: replace it.
    const k = sub.options.applicationServerKey;
    const same = k && new Uint8Array(k).join() === keyBytes(public_key).join();
    if (!same) {
      await sub.unsubscribe();
      sub = null;
    }
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(public_key) });
  await api.setPushSubscription(sub.toJSON());
}

export type NotifyState = 'unsupported' | 'denied' | 'off' | 'on';

export function notifyState(): NotifyState {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  return Notification.permission === 'granted' && stored(NOTIFY_KEY) === 'on' ? 'on' : 'off';
}

/**
 * Asks the browser (call it from a click), records the answer in the ledger
 * and, when allowed, subscribes. Throws when subscribing failed (the grant
 * stays recorded; the person can try again).
 */
export async function enableNotifications(): Promise<NotifyState> {
  if (!pushSupported()) return 'unsupported';
  const answer = await Notification.requestPermission();
  const granted = answer === 'granted';
  await api.setPermission('notifications', granted);
  if (!granted) {
    store(NOTIFY_KEY, null);
    return answer === 'denied' ? 'denied' : 'off';
  }
  store(NOTIFY_KEY, 'on');
  await subscribe();
  return 'on';
}

/** Turns notifications off: the ledger records the withdrawal; the server drops the subscriptions. */
export async function disableNotifications(): Promise<void> {
  store(NOTIFY_KEY, null);
  await api.setPermission('notifications', false);
  try {
    const reg = await navigator.serviceWorker.getRegistration();
    await (await reg?.pushManager.getSubscription())?.unsubscribe();
  } catch {
    // nothing to unsubscribe
  }
}

/** After sign-in: keeps the server's copy of this device's subscription current. */
export function refreshPushSubscription(): void {
  if (notifyState() === 'on' && token() && deviceId()) subscribe().catch(() => {});
}

// ---- Sound ----

export const soundOn = () => stored(SOUND_KEY) === 'on';
export function setSound(on: boolean): void {
  store(SOUND_KEY, on ? 'on' : null);
  if (on) chime();
}

let audio: AudioContext | null = null;
/** A short two-note chime, synthesised (no audio file to load). */
export function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    [880, 1320].forEach((f, i) => {
      const o = audio!.createOscillator();
      const g = audio!.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, now + i * 0.12);
      g.gain.exponentialRampToValueAtTime(0.2, now + i * 0.12 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.2);
      o.connect(g).connect(audio!.destination);
      o.start(now + i * 0.12);
      o.stop(now + i * 0.12 + 0.22);
    });
  } catch {
    // no Web Audio
  }
}

let muted = new Set<string>();
/** The chats the person muted (from the chat list the shell already reads). */
export function setMuted(ids: Iterable<string>): void {
  muted = new Set(ids);
}

/** Plays the sound for a new message from someone else, unless the chat is muted or on screen. */
export function watchForSound(myId: string): () => void {
  return onFrame((f) => {
    if (f.type !== 'message' || !soundOn()) return;
    const conv = String(f.conversation_id ?? '');
    const m = f.message as { sender_id?: string } | undefined;
    if (!m || m.sender_id === myId || (muted.has(conv) && !f.mentioned)) return;
    if (document.visibilityState === 'visible' && location.pathname === `/chats/${conv}`) return;
    chime();
  });
}

// ---- Unread count in the title and the favicon ----

let unread = 0;
const prefix = /^\(\d+\+?\) /;

function titled(): void {
  const base = document.title.replace(prefix, '');
  const want = unread > 0 ? `(${unread > 99 ? '99+' : unread}) ${base}` : base;
  if (document.title !== want) document.title = want;
}

let observing = false;
let plainIcon = '';

/** Shows n unread messages in the tab: "(n) title" and a badge on the favicon. */
export function showUnread(n: number): void {
  if (n === unread && observing) return;
  unread = n;
  if (!observing) {
    observing = true;
    // Screens set document.title freely; the count is put back in front.
    const el = document.querySelector('title');
    if (el) new MutationObserver(titled).observe(el, { childList: true, characterData: true, subtree: true });
  }
  titled();
  badgeIcon(n);
}

function badgeIcon(n: number): void {
  const link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) return;
  plainIcon ||= link.href;
  if (n <= 0) {
    if (link.href === plainIcon) return; // setting it again would fetch it again
    link.href = plainIcon;
    link.type = 'image/svg+xml';
    return;
  }
  const img = new Image();
  img.onload = () => {
    if (unread !== n) return;
    const c = document.createElement('canvas');
    c.width = c.height = 64;
    const g = c.getContext('2d');
    if (!g) return;
    g.drawImage(img, 0, 0, 64, 64);
    g.fillStyle = '#e5484d';
    g.beginPath();
    g.arc(44, 20, 20, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = '#fff';
    g.font = 'bold 26px sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(n > 9 ? '9+' : String(n), 44, 21);
    link.type = 'image/png';
    link.href = c.toDataURL('image/png');
  };
  img.src = plainIcon;
}
