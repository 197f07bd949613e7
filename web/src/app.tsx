// The app shell: who is signed in, which screen the path names, and the tab bar.

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, setSignedOutHandler, setToken, token, watchOtherTabs, type User } from './api';
import { Notices } from './components';
import { t, type Key } from './i18n';
import { link, navigate, usePath } from './router';
import { ComingSoon } from './screens/ComingSoon';
import { Destroy } from './screens/Destroy';
import { Login } from './screens/Login';
import { Me } from './screens/Me';
import { MyData } from './screens/MyData';
import { Privacy } from './screens/Privacy';
import { Profile } from './screens/Profile';
import { Register } from './screens/Register';
import { Security } from './screens/Security';
import { Welcome } from './screens/Welcome';

type Auth =
  | { state: 'loading' }
  | { state: 'failed'; error: unknown }
  | { state: 'out'; notice?: string }
  | { state: 'in'; user: User };

const PUBLIC = new Set(['/', '/login', '/register']);
const HOME = '/me';

interface Ctx {
  user: User;
  setUser: (u: User) => void;
  logout: () => Promise<void>;
  destroyed: () => void;
  onLang: () => void;
}

/** Every screen of a signed-in person, by path. */
const SCREENS: Record<string, (c: Ctx) => JSX.Element> = {
  '/chats': () => <ComingSoon tab="chats" />,
  '/contacts': () => <ComingSoon tab="contacts" />,
  '/moments': () => <ComingSoon tab="moments" />,
  '/me': (c) => <Me user={c.user} onLogout={c.logout} onLang={c.onLang} />,
  '/me/profile': (c) => <Profile user={c.user} onUser={c.setUser} />,
  '/me/security': (c) => <Security user={c.user} />,
  '/me/security/destroy': (c) => <Destroy onDestroyed={c.destroyed} />,
  '/me/privacy': () => <Privacy />,
  '/me/data': () => <MyData />,
};

const TABS = ['chats', 'contacts', 'moments', 'me'] as const;

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

function TabBar({ path }: { path: string }) {
  return (
    <nav class="tabbar" aria-label={t('tab.nav')}>
      <ul>
        {TABS.map((tab) => {
          const href = `/${tab}`;
          const active = path === href || path.startsWith(href + '/');
          return (
            <li key={tab}>
              <a {...link(href)} aria-current={active ? 'page' : undefined} class={active ? 'active' : undefined}>
                <TabIcon tab={tab} />
                <span>{t(`tab.${tab}` as Key)}</span>
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

export function App() {
  const [auth, setAuth] = useState<Auth>(token() ? { state: 'loading' } : { state: 'out' });
  const [, setLangTick] = useState(0);
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
    watchOtherTabs(loadMe);
    loadMe();
    // Coming back to the tab re-reads the profile, so a device signed out from
    // elsewhere learns it at once instead of on its next action.
    const onVisible = () => {
      if (document.visibilityState === 'visible' && token()) api.me().then((user) => setAuth({ state: 'in', user }), () => {});
    };
    document.addEventListener('visibilitychange', onVisible);
  }, []);

  // Keep the path and the auth state consistent: signed-out people see only
  // the public screens, signed-in people skip them.
  useEffect(() => {
    if (auth.state === 'out' && !PUBLIC.has(path)) navigate(path in SCREENS ? '/login' : '/', true);
    if (auth.state === 'in' && !(path in SCREENS)) navigate(HOME, true);
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
    setToken(null);
    setAuth({ state: 'out' });
    navigate('/login');
  }

  function destroyed() {
    setToken(null);
    setAuth({ state: 'out', notice: t('welcome.destroyed') });
    navigate('/');
  }

  const onLang = () => setLangTick((n) => n + 1);

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
    return <Welcome notice={auth.notice} onLang={onLang} />;
  }

  const ctx: Ctx = { user: auth.user, setUser: (u) => setAuth({ state: 'in', user: u }), logout, destroyed, onLang };
  const screen = (SCREENS[path] ?? SCREENS[HOME])(ctx);
  // The content comes first in the document, the tab bar after it: keyboard and
  // screen-reader users land on the screen, as in a native app.
  return (
    <div class="shell">
      <div class="shell-main" key={path}>
        {screen}
      </div>
      <TabBar path={path} />
    </div>
  );
}
