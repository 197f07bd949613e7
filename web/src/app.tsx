// The app shell: who is signed in, which screen the path names, and the tab bar.

import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, chat, setPolicyRequiredHandler, setSignedOutHandler, setToken, social, token, watchOtherTabs, type Policy, type User } from './api';
import { Notices, PolicyText, errorText } from './components';
import { t, type Key } from './i18n';
import { onFrame, startRealtime, stopRealtime } from './realtime';
import { link, navigate, usePath } from './router';
import { CallHost, watchCalls } from './call-ring';
import { refreshPushSubscription, registerServiceWorker, rememberLang, setMuted, showUnread, watchForSound } from './notify';
import { Notifications } from './screens/Notifications';
import { Announcements } from './screens/Announcements';
import { Destroy } from './screens/Destroy';
import { Login } from './screens/Login';
import { Me } from './screens/Me';
import { MyData } from './screens/MyData';
import { Privacy } from './screens/Privacy';
import { Profile } from './screens/Profile';
import { Register } from './screens/Register';
import { Security } from './screens/Security';
import { Welcome } from './screens/Welcome';
import { Alerts } from './alerts';

type Auth =
  | { state: 'loading' }
  | { state: 'failed'; error: unknown }
  | { state: 'out'; notice?: string }
  | { state: 'in'; user: User };

const PUBLIC = new Set(['/', '/login', '/register', '/reset']);
const HOME = '/me';

export interface Ctx {
  user: User;
  setUser: (u: User) => void;
  logout: () => Promise<void>;
  destroyed: () => void;
  onLang: () => void;
  /** Path parameters: /chats/:id and the like. */
  params: string[];
}

type Screen = (c: Ctx) => JSX.Element;
type Module = object;

function Loading() {
  return (
    <main class="page" id="main">
      <p class="center muted" role="status">
        {t('app.loading')}
      </p>
    </main>
  );
}

/**
 * A screen from a lazily loaded chunk (chats, contacts, Moments, QR), so the
 * first load carries only the shell and the account screens.
 */
function lazy(load: () => Promise<Module>, name: string): Screen {
  let mod: Module | null = null;
  let pending: Promise<unknown> | null = null;
  function Lazy({ c }: { c: Ctx }) {
    const [, force] = useState(0);
    const [err, setErr] = useState<unknown>(null);
    useEffect(() => {
      if (mod) return;
      let alive = true;
      pending ??= load().then((m) => (mod = m));
      pending.then(
        () => alive && force((n) => n + 1),
        (e) => {
          pending = null;
          if (alive) setErr(e);
        },
      );
      return () => {
        alive = false;
      };
    }, []);
    if (mod) {
      const Screen = (mod as Record<string, (c: Ctx) => JSX.Element>)[name];
      return <Screen {...c} />;
    }
    if (err)
      return (
        <main class="page" id="main">
          <Notices error={t('err.network')} />
        </main>
      );
    return <Loading />;
  }
  return (c) => <Lazy c={c} />;
}

/** The forgotten-password screen, fetched when someone asks for it (not at start). */
function LazyReset({ onDone }: { onDone: (notice: string) => void }) {
  const [mod, setMod] = useState<typeof import('./screens/Reset') | null>(null);
  const [err, setErr] = useState(false);
  useEffect(() => {
    import('./screens/Reset').then(setMod, () => setErr(true));
  }, []);
  if (mod) return <mod.Reset onDone={onDone} />;
  if (err)
    return (
      <main class="page" id="main">
        <Notices error={t('err.network')} />
      </main>
    );
  return <Loading />;
}

const chatMod = () => import('./chat');
const contactsMod = () => import('./contacts');
const momentsMod = () => import('./moments');
const qrMod = () => import('./qr');
const consoleMod = () => import('./console');
const accountMod = () => import('./account');
const favoritesMod = () => import('./favorites');

/** Every screen of a signed-in person, by path pattern (":" marks a parameter). */
const ROUTES: [string, Screen][] = [
  ['/chats', lazy(chatMod, 'Chats')],
  ['/chats/:', lazy(chatMod, 'ConversationScreen')],
  ['/chats/:/info', lazy(chatMod, 'ChatInfo')],
  ['/contacts', lazy(contactsMod, 'Contacts')],
  ['/contacts/add', lazy(contactsMod, 'AddFriend')],
  ['/contacts/new-group', lazy(contactsMod, 'NewGroup')],
  ['/contacts/blocked', lazy(contactsMod, 'Blocked')],
  ['/contacts/:', lazy(contactsMod, 'ContactDetail')],
  ['/moments', lazy(momentsMod, 'Timeline')],
  ['/moments/new', lazy(momentsMod, 'Compose')],
  ['/moments/user/:', lazy(momentsMod, 'Album')],
  ['/me', (c) => <Me user={c.user} onLogout={c.logout} onLang={c.onLang} />],
  ['/me/profile', (c) => <Profile user={c.user} onUser={c.setUser} />],
  ['/me/security', (c) => <Security user={c.user} />],
  ['/me/security/destroy', (c) => <Destroy onDestroyed={c.destroyed} />],
  ['/me/privacy', () => <Privacy />],
  ['/me/data', (c) => <MyData user={c.user} />],
  ['/me/qr', lazy(qrMod, 'MyQR')],
  ['/me/scan', lazy(qrMod, 'ScanLogin')],
  ['/me/announcements', () => <Announcements />],
  ['/me/photo', lazy(accountMod, 'Photo')],
  ['/me/password', lazy(accountMod, 'Password')],
  ['/me/phone', lazy(accountMod, 'ChangePhone')],
  ['/me/favorites', lazy(favoritesMod, 'Favorites')],
  ['/me/support', lazy(accountMod, 'Support')],
  ['/me/support/:', lazy(accountMod, 'SupportTicket')],
  ['/me/notices', lazy(accountMod, 'NoticesScreen')],
  ['/me/notifications', () => <Notifications />],
  ['/staff', lazy(consoleMod, 'Console')],
  ['/staff/:', lazy(consoleMod, 'Section')],
  ['/staff/:/:', lazy(consoleMod, 'Detail')],
];

/** The screen for a path and its parameters, or null. Literal segments win over parameters. */
function route(path: string): { screen: Screen; params: string[] } | null {
  const parts = path.split('/').slice(1);
  let best: { screen: Screen; params: string[]; score: number } | null = null;
  for (const [pattern, screen] of ROUTES) {
    const pp = pattern.split('/').slice(1);
    if (pp.length !== parts.length) continue;
    const params: string[] = [];
    let score = 0;
    let ok = true;
    for (let i = 0; i < pp.length; i++) {
      if (pp[i] === ':') {
        if (!parts[i]) ok = false;
        else params.push(decodeURIComponent(parts[i]));
      } else if (pp[i] === parts[i]) score++;
      else ok = false;
    }
    if (ok && (!best || score > best.score)) best = { screen, params, score };
  }
  return best;
}

/**
 * What the screen area is keyed by: each path starts afresh, except going
 * from chat to chat, which keeps the chat list beside the chat mounted (its
 * scroll position, not a reload from the top on every click on a desktop);
 * the chat itself is keyed by its id (ConversationScreen).
 */
function shellKey(path: string): string {
  return /^\/chats\/[^/]+$/.test(path) ? '/chats/:' : path;
}

const TABS = ['chats', 'contacts', 'moments', 'me'] as const;

/** The conversation open on screen, if any (its unread messages are being read). */
function openChat(): string | null {
  const m = location.pathname.match(/^\/chats\/([^/]+)$/);
  return m && document.visibilityState === 'visible' ? decodeURIComponent(m[1]) : null;
}

function TabIcon({ tab }: { tab: (typeof TABS)[number] }) {
  const d = {
    chats: 'M4 5h16v11H9l-5 4z',
    contacts: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8c0-4 3-6 7-6s7 2 7 6z',
    moments: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 4a5 5 0 1 1 0 10 5 5 0 0 1 0-10z',
    me: 'M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-8 10c0-5 4-7 8-7s8 2 8 7z',
  }[tab];
  return (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
      <path d={d} />
    </svg>
  );
}

function TabBar({ path, unread }: { path: string; unread: number }) {
  return (
    <nav class="tabbar" aria-label={t('tab.nav')}>
      <ul>
        {TABS.map((tab) => {
          const href = `/${tab}`;
          const active = path === href || path.startsWith(href + '/');
          return (
            <li key={tab}>
              <a {...link(href)} aria-current={active ? 'page' : undefined} class={active ? 'active' : undefined}>
                <span class="tab-icon">
                  <TabIcon tab={tab} />
                  {tab === 'chats' && unread > 0 && (
                    <span class="tab-badge" aria-hidden="true">
                      {unread > 99 ? '99+' : unread}
                    </span>
                  )}
                </span>
                <span>{t(`tab.${tab}` as Key)}</span>
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

/**
 * A major policy update: every call answers 409 until the person accepts the
 * new version, so the app blocks with the text and an Accept button.
 */
function PolicyGate({ onAccepted, onLogout, onExport }: { onAccepted: () => void; onLogout: () => void; onExport: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    api.policy().then(setPolicy, setError);
  }, []);
  async function accept() {
    if (!policy) return;
    setBusy(true);
    setError(null);
    try {
      await social.acceptPolicy(policy.version);
      ref.current?.close();
      onAccepted();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <dialog
      ref={ref}
      class="dialog policy-dialog"
      aria-labelledby="policy-gate-title"
      onCancel={(e) => e.preventDefault() /* it cannot be dismissed, only answered */}
    >
      <h2 id="policy-gate-title">{t('gate.title')}</h2>
      <p>{t('gate.body')}</p>
      {policy ? <PolicyText policy={policy} /> : !error && <p>{t('app.loading')}</p>}
      <Notices error={error} />
      <div class="dialog-actions">
        <button type="button" class="secondary" onClick={onLogout}>
          {t('me.logout')}
        </button>
        <button type="button" class="secondary" onClick={onExport}>
          {t('gate.export')}
        </button>
        <button type="button" class="primary" disabled={!policy || busy} onClick={accept}>
          {t('gate.accept')}
        </button>
      </div>
    </dialog>
  );
}

export function App() {
  const [auth, setAuth] = useState<Auth>(token() ? { state: 'loading' } : { state: 'out' });
  const [, setLangTick] = useState(0);
  const [gate, setGate] = useState(false);
  const [epoch, setEpoch] = useState(0);
  const [unread, setUnread] = useState(0);
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => showUnread(auth.state === 'in' ? unread : 0), [unread, auth.state]);
  const path = usePath();

  async function loadMe() {
    if (!token()) {
      setAuth({ state: 'out' });
      return;
    }
    setAuth({ state: 'loading' });
    try {
      setAuth({ state: 'in', user: await api.me() });
    } catch (e) {
      // A 401 already went through the signed-out handler.
      if (!(e instanceof ApiError && e.status === 401)) setAuth({ state: 'failed', error: e });
    }
  }

  useEffect(() => {
    setSignedOutHandler(() => {
      setAuth({ state: 'out', notice: t('login.signedOut') });
      navigate('/login', true);
    });
    setPolicyRequiredHandler(() => setGate(true));
    registerServiceWorker();
    const onLine = () => setOnline(navigator.onLine);
    window.addEventListener('online', onLine);
    window.addEventListener('offline', onLine);
    watchOtherTabs(loadMe);
    loadMe();
    // Coming back to the tab re-reads the profile, so a device signed out from
    // elsewhere learns it at once instead of on its next action.
    const onVisible = () => {
      if (document.visibilityState === 'visible' && token()) api.me().then((user) => setAuth({ state: 'in', user }), () => {});
    };
    document.addEventListener('visibilitychange', onVisible);
  }, []);

  // One socket per signed-in tab; the unread total on the Chats tab follows it.
  useEffect(() => {
    if (auth.state !== 'in') {
      stopRealtime();
      return;
    }
    // Calls ring from the first frame on, though their screens load only then.
    const offCalls = watchCalls(auth.user.id);
    startRealtime();
    // Fetch the chat chunk in the background once the first screen is up, so
    // opening Chats later does not wait for it. (It is not part of the first load.)
    // Loading it also starts sending what waits in the outbox (messages
    // written while offline, kept in IndexedDB).
    const me = auth.user.id;
    const prefetch = window.setTimeout(() => chatMod().then((m) => m.startOutbox(me), () => {}), 3000);
    let timer: number | undefined;
    const refresh = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        chat.list().then(
          (r) => {
            // The chat open on screen is being read: it adds nothing to the badge.
            setUnread((r.conversations ?? []).reduce((n, c) => n + (c.muted || openChat() === c.id ? 0 : c.unread ?? 0), 0));
            setMuted((r.conversations ?? []).filter((c) => c.muted).map((c) => c.id));
          },
          () => {},
        );
      }, 400);
    };
    refresh();
    refreshPushSubscription();
    const offSound = watchForSound(auth.user.id);
    const off = onFrame((f) => {
      if (f.type === 'policy' && f.major) setGate(true);
      if (['message', 'sync', 'conversation', 'read', 'recall', 'unread'].includes(f.type)) refresh();
      if (f.type === 'receipt' && f.user_id === auth.user.id) refresh();
    });
    return () => {
      off();
      offCalls();
      offSound();
      window.clearTimeout(timer);
      window.clearTimeout(prefetch);
    };
  }, [auth.state === 'in' ? auth.user.id : '']);

  // Keep the path and the auth state consistent: signed-out people see only
  // the public screens, signed-in people skip them.
  useEffect(() => {
    if (auth.state === 'out' && !PUBLIC.has(path)) navigate(route(path) ? '/login' : '/', true);
    if (auth.state === 'in' && !route(path)) navigate(HOME, true);
  }, [auth.state, path]);

  function signedIn(user: User, tok: string) {
    setToken(tok);
    setAuth({ state: 'in', user });
    navigate(HOME);
  }

  async function logout() {
    try {
      await api.logout();
    } catch (e) {
      // A dead token is as good as logged out; anything else is worth showing.
      if (!(e instanceof ApiError && e.status === 401)) throw e;
    }
    stopRealtime();
    setGate(false);
    setToken(null);
    setAuth({ state: 'out' });
    navigate('/login');
  }

  function destroyed() {
    stopRealtime();
    setToken(null);
    setAuth({ state: 'out', notice: t('welcome.destroyed') });
    navigate('/');
  }

  const onLang = () => {
    setLangTick((n) => n + 1);
    rememberLang();
  };

  if (auth.state === 'loading') {
    return (
      <main class="page page-narrow" id="main">
        <p class="center muted" role="status">
          {t('app.loading')}
        </p>
      </main>
    );
  }
  if (auth.state === 'failed') {
    return (
      <main class="page page-narrow" id="main">
        <Notices error={auth.error} />
        <button type="button" class="primary" onClick={loadMe}>
          {t('common.retry')}
        </button>
      </main>
    );
  }
  if (auth.state === 'out') {
    if (path === '/login') return <Login notice={auth.notice} onSignedIn={signedIn} />;
    if (path === '/register') return <Register onSignedIn={signedIn} />;
    if (path === '/reset') return <LazyReset onDone={(notice) => setAuth({ state: 'out', notice })} />;
    return <Welcome notice={auth.notice} onLang={onLang} />;
  }

  const r = route(path) ?? route(HOME)!;
  const ctx: Ctx = { user: auth.user, setUser: (u) => setAuth({ state: 'in', user: u }), logout, destroyed, onLang, params: r.params };
  const screen = r.screen(ctx);
  // The content comes first in the document, the tab bar after it: keyboard and
  // screen-reader users land on the screen, as in a native app.
  return (
    <div class={(path.match(/^\/chats\/[^/]+$/) ? 'shell shell-chat' : 'shell') + (path.match(/^\/chats(\/[^/]+)?$/) ? ' shell-chats' : '')}>
      <div class="shell-main" key={`${shellKey(path)}#${epoch}`}>
        <Alerts />
        {!online && (
          <p class="offline-banner" role="status">
            {t('app.offline')}
          </p>
        )}
        {screen}
      </div>
      <TabBar path={path} unread={unread} />
      <CallHost me={auth.user.id} />
      {gate && (
        <PolicyGate
          onAccepted={() => {
            setGate(false);
            setEpoch((n) => n + 1);
          }}
          onExport={() => {
            setGate(false);
            navigate('/me/data');
          }}
          onLogout={() => {
            setGate(false);
            logout().catch((e) => alert(errorText(e)));
          }}
        />
      )}
    </div>
  );
}
