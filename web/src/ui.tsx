// Pieces shared by the lazily loaded screens: avatars, pictures that need the
// bearer token (fetched into blob: URLs), names and short times.

import { useEffect, useState } from 'preact/hooks';
import { blobURL, chat, social, type PublicUser } from './api';
import { navigate } from './router';
import { dateFormat, lang, t } from './i18n';

// The server puts remarks only on the contacts list, so they are kept here
// and applied wherever a friend appears (chats, members, Moments).
const remarks = new Map<string, string>();
let remarksLoaded: Promise<void> | null = null;

/** Loads (or reloads) the caller's remarks; resolves when they are known. */
export function loadRemarks(fresh = false): Promise<void> {
  if (!remarksLoaded || fresh)
    remarksLoaded = social.contacts().then(
      (r) => {
        remarks.clear();
        for (const c of r.contacts ?? []) if (c.remark) remarks.set(c.id, c.remark);
      },
      () => {
        remarksLoaded = null;
      },
    );
  return remarksLoaded;
}

/** Re-renders the caller once remarks are loaded. */
export function useRemarks() {
  const [, set] = useState(0);
  useEffect(() => {
    let alive = true;
    loadRemarks().then(() => alive && set((n) => n + 1));
    return () => {
      alive = false;
    };
  }, []);
}

/** The name to show for a person: the caller's remark, else the nickname. */
export function displayName(u?: PublicUser | null): string {
  // Damaged in storage is not deleted: say so (issue 14 item 9).
  if (u?.unreadable) return t('chat.unreadableAccount');
  if (!u || u.deleted || !u.username) return t('chat.deletedAccount');
  return u.remark || remarks.get(u.id) || u.nickname || u.username;
}

/** A picture from the API, fetched with the token. `alt` describes it. */
export function AuthImg({ src, alt, class: cls }: { src: string; alt: string; class?: string }) {
  const [url, setUrl] = useState('');
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let alive = true;
    blobURL(src).then(
      (u) => alive && setUrl(u),
      () => alive && setFailed(true),
    );
    return () => {
      alive = false;
    };
  }, [src]);
  if (failed) return <span class={`img-missing ${cls ?? ''}`}>{t('media.unavailable')}</span>;
  if (!url) return <span class={`img-loading ${cls ?? ''}`} role="img" aria-label={alt} />;
  return <img class={cls} src={url} alt={alt} />;
}

export function UserAvatar({ user, size = 'small' }: { user?: PublicUser | null; size?: 'small' | 'large' | 'tiny' }) {
  const name = displayName(user);
  if (user?.avatar_url) return <AuthImg class={`avatar avatar-${size}`} src={user.avatar_url} alt="" />;
  const initial = user?.username ? Array.from(user.nickname || user.username)[0].toUpperCase() : '?';
  return (
    <span class={`avatar avatar-${size}${user?.username ? '' : ' avatar-gone'}`} aria-hidden="true" title={name}>
      {initial}
    </span>
  );
}

const WEEKDAYS = {
  en: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
  zh: ['周日', '周一', '周二', '周三', '周四', '周五', '周六'],
};

/**
 * "02:05 PM" or "14:05", as Intl.DateTimeFormat writes hour and minute in
 * 'en' and 'zh-CN', made by hand: the first Intl date format of a page loads
 * the locale's calendar data, ~25 ms (100 ms on a slow phone) in the middle
 * of the chat's first render, and every message row shows a time.
 */
function clock(d: Date): string {
  const h = d.getHours();
  const m = String(d.getMinutes()).padStart(2, '0');
  if (lang() === 'zh') return `${String(h).padStart(2, '0')}:${m}`;
  return `${String(h % 12 || 12).padStart(2, '0')}:${m} ${h < 12 ? 'AM' : 'PM'}`;
}

/** "14:05" today, "Mon 14:05" this week, else a short date. */
export function shortTime(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return clock(d);
  if (now.getTime() - d.getTime() < 6 * 86400_000) {
    const zh = lang() === 'zh';
    return `${(zh ? WEEKDAYS.zh : WEEKDAYS.en)[d.getDay()]}${zh ? '' : ' '}${clock(d)}`;
  }
  return dateFormat({ dateStyle: 'medium' }).format(d);
}

export function formatBytes(n?: number): string {
  if (n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Saves a blob under a name through a temporary link. */
export function saveBlob(url: string, name: string) {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** Opens (or creates) the direct chat with a person. */
export async function openDirect(peer: string) {
  const cv = await chat.createDirect(peer);
  navigate(`/chats/${encodeURIComponent(cv.id)}`);
}

const ICONS = {
  picture: 'M4 5h16v14H4z M4 16l5-5 4 4 3-3 4 4 M15.5 9.5h.01',
  clip: 'M8 12.5l6.5-6.5a3 3 0 0 1 4.2 4.2L10 18.9a5 5 0 0 1-7-7L11 4',
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z M5 11a7 7 0 0 0 14 0 M12 18v3',
  pin: 'M12 21s-7-6.5-7-12a7 7 0 0 1 14 0c0 5.5-7 12-7 12z M12 11.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z',
  file: 'M6 3h8l4 4v14H6z M14 3v4h4',
  phone: 'M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z',
  video: 'M3 7h12v10H3z M15 10.5l6-3.5v10l-6-3.5',
  more: 'M5 12h.01 M12 12h.01 M19 12h.01',
};

/** A small line icon, hidden from assistive technology (its control carries the name). */
export function Icon({ name, size = 20 }: { name: keyof typeof ICONS; size?: number }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" width={size} height={size} aria-hidden="true" focusable="false">
      <path d={ICONS[name]} />
    </svg>
  );
}
