// Chats: the conversation list, one conversation (a windowed message list
// with pictures, files, voice notes, locations, recall, delete-for-me,
// receipts and typing) and a conversation's info (members, group settings).
// Loaded lazily: this chunk is fetched on the first visit to /chats.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, blobURL, chat, request, social, type Conversation, type Member, type Message, type PublicUser, type SearchResult } from './api';
import type { Ctx } from './app';
import { convApi, favorites } from './api-conv';
import { CallButtons } from './call-buttons';
import { callRecordText } from './call-text';
import { ct } from './chat-text';
import {
  ALL_MARKS,
  DISAPPEAR,
  ForwardDialog,
  HistoryCard,
  MAX_FORWARD,
  MentionList,
  MentionText,
  Quote,
  clearMention,
  disappearLabel,
  hasMention,
  mentionOptions,
  mentionQuery,
  mentionsMe,
  useMentions,
  type MentionPick,
} from './conv';
import { vt } from './conv-text';
import { Field, Notices, Page, errorText, useAction } from './components';
import { dateFormat, t } from './i18n';
import { kindLabel, shortPreview } from './msg-kind';
import { discard, enqueue, onOutbox, pendingFor, retry, startOutbox, type OutItem } from './outbox';
import { ackLoaded, notifyRead, onFrame, sendFrame, store } from './realtime';
import { ReportDialog } from './report';
import { RichText } from './richtext';
import { link, navigate } from './router';
import { AuthImg, Icon, UserAvatar, displayName, formatBytes, saveBlob, shortTime, useRemarks } from './ui';

const RECALL_MS = 2 * 60 * 1000;
const PAGE = 50;

export function convTitle(c: Conversation): string {
  if (c.kind === 'group') return c.name || t('chat.group');
  return displayName(c.peer);
}

/** One line about a message, for the list and for replies. */
export function preview(m: Message | undefined, me: string): string {
  if (!m) return '';
  if (m.sender_deleted) return t('chat.fromDeleted');
  if (m.unreadable) return t('chat.unreadable');
  if (m.recalled) return m.sender_id === me ? t('chat.youRecalled') : t('chat.recalled');
  switch (m.kind) {
    case 'text':
      return m.text ?? '';
    case 'location':
      return kindLabel('location') + (m.location?.name ? ` ${m.location.name}` : '');
    case 'call':
      return callRecordText(m);
    case 'system':
      if (typeof m.system?.disappear_after_s === 'number')
        return m.system.disappear_after_s ? vt('disappearOn', { t: disappearLabel(m.system.disappear_after_s) }) : vt('disappearCleared');
      break;
    default:
      if (kindLabel(m.kind)) return kindLabel(m.kind);
  }
  return m.text ?? '';
}

// A jump to a message asked for before its chat is on screen (a search
// result), and the open chat's jumper for one asked for while it is.
let pendingJump: { conv: string; seq: number } | null = null;
let liveJump: { conv: string; go: (seq: number) => void } | null = null;

/** Opens a chat at one message: scrolled to it (older pages loaded as needed) and highlighted. */
export function openAt(conv: string, seq: number) {
  if (liveJump?.conv === conv && location.pathname === `/chats/${encodeURIComponent(conv)}`) {
    liveJump.go(seq);
    return;
  }
  pendingJump = { conv, seq };
  navigate(`/chats/${encodeURIComponent(conv)}`);
}

/**
 * Refreshes f whenever a frame could change what it shows: 250 ms after the
 * first such frame, so that a burst costs one refresh. A frame that comes
 * while one is due does not put it off: in a busy group (a message every
 * 100 ms) a debounce that restarted on each frame never refreshed until
 * the group went quiet.
 */
function useLive(f: () => void, types: string[], deps: unknown[] = []) {
  useEffect(() => {
    let timer: number | undefined;
    const off = onFrame((fr) => {
      if (!types.includes(fr.type) || timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        f();
      }, 250);
    });
    return () => {
      off();
      window.clearTimeout(timer);
    };
  }, deps);
}

// ---------------------------------------------------------------- search

/** Searches contacts and message text (the server's full-text index). */
function Search({ me, onFilter }: { me: string; onFilter?: (q: string) => void }) {
  const [q, setQ] = useState('');
  const [res, setRes] = useState<SearchResult | null>(null);
  const action = useAction();
  async function go(e: Event) {
    e.preventDefault();
    const s = q.trim();
    if (!s) {
      setRes(null);
      return;
    }
    await action.run(async () => setRes(await social.search(s)));
  }
  // Message hits with their chat and sender named (servers without them: the bare messages).
  const hits = res?.hits ?? (res?.messages ?? []).map((message) => ({ message, conversation: undefined, sender_name: undefined }));
  const n = hits.length + (res?.contacts?.length ?? 0) + (res?.groups?.length ?? 0) + (res?.favorites?.length ?? 0);
  return (
    <div class="search">
      <form role="search" class="composer-form" onSubmit={go}>
        <label for="chat-search" class="sr-only">
          {t('search.label')}
        </label>
        <input id="chat-search" type="text" value={q} placeholder={t('search.label')} onInput={(e) => {
            const v = (e.currentTarget as HTMLInputElement).value;
            setQ(v);
            onFilter?.(v);
            if (!v.trim()) setRes(null);
          }} />
        <button type="submit" class="secondary">
          {t('contacts.search')}
        </button>
      </form>
      <Notices error={action.error} />
      {res && (
        <div role="status" class="search-results">
          {n === 0 ? (
            <p class="muted">{t('search.none')}</p>
          ) : (
            <ul class="list card">
              {(res.contacts ?? []).map((u) => (
                <li key={u.id}>
                  <a class="list-item" {...link(`/contacts/${encodeURIComponent(u.id)}`)}>
                    <span>{displayName(u)}</span>
                    <span class="muted small">@{u.username}</span>
                  </a>
                </li>
              ))}
              {(res.groups ?? []).map((g) => (
                <li key={g.id}>
                  <a class="list-item" {...link(`/chats/${encodeURIComponent(g.id)}`)}>
                    <span dir="auto">{g.name || t('chat.group')}</span>
                    <span class="muted small">{t('chat.group')}</span>
                  </a>
                </li>
              ))}
              {hits.map(({ message: m, conversation: hc, sender_name }) => {
                const cv = (lastList ?? []).find((x) => x.id === m.conversation_id);
                const chatName = (cv ? convTitle(cv) : '') || hc?.name || m.conversation_name || '';
                const sender = m.sender_id === me ? vt('you') : sender_name || m.sender_name || (cv?.kind === 'direct' ? displayName(cv.peer) : '');
                const href = `/chats/${encodeURIComponent(m.conversation_id ?? '')}`;
                return (
                  <li key={m.id}>
                    <a
                      class="list-item search-hit"
                      href={href}
                      onClick={(e) => {
                        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
                        e.preventDefault();
                        openAt(m.conversation_id ?? '', m.seq);
                      }}
                    >
                      <span class="search-hit-main">
                        {chatName && (
                          <span class="search-hit-chat" dir="auto">
                            {chatName}
                          </span>
                        )}
                        <span class="chat-preview" dir="auto">
                          {sender && <span class="search-hit-sender">{vt('searchFrom', { name: sender })} </span>}
                          {preview(m, me)}
                        </span>
                      </span>
                      <span class="muted small">{shortTime(m.sent_at)}</span>
                    </a>
                  </li>
                );
              })}
              {(res.favorites ?? []).map((f) => (
                <li key={f.id}>
                  <a class="list-item search-hit" {...link('/me/favorites')}>
                    <span class="search-hit-main">
                      <span class="search-hit-chat">{vt('favorites')}</span>
                      <span class="chat-preview" dir="auto">
                        {f.author_name && <span class="search-hit-sender">{vt('searchFrom', { name: f.author_name })} </span>}
                        {f.content_kind && f.content_kind !== 'text' && f.content_kind !== 'moment' ? shortPreview(f.content_kind, f.text) : f.text}
                      </span>
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

// ---------------------------------------------------------------- the list

/** Whether the window is wide enough for the list beside the open chat (WhatsApp Web style). */
function useWide(): boolean {
  const q = '(min-width: 900px)';
  const [wide, setWide] = useState(() => window.matchMedia(q).matches);
  useEffect(() => {
    const mq = window.matchMedia(q);
    const f = () => setWide(mq.matches);
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, []);
  return wide;
}

// The last list seen, so switching chats on a wide screen redraws the list at
// once (the screen is remounted per path) instead of flashing "Loading".
let lastList: Conversation[] | null = null;
/**
 * How far the page was scrolled down the phone's chat list: going into a
 * chat and back with its ‹ (a new history entry, not Back) found the list
 * at the top again, however far down the chat was.
 */
let listScrollY = 0;
/** The same for the desktop's list pane. */
let paneScrollTop = 0;

/**
 * The chat list with message m (from a "message" frame) in conversation
 * conv: its row shows m, counts it unread unless it is the caller's own
 * (sent from another device: the server marks it read), and moves to the
 * top of the unpinned chats (pinned ones keep their pin order). The same
 * list when the chat is not in it (a new chat: the refresh brings it) or m
 * is not newer than what the row shows (a frame seen twice).
 */
function withMessage(list: Conversation[], conv: string, m: Message, me: string): Conversation[] {
  const i = list.findIndex((cv) => cv.id === conv);
  if (i < 0 || typeof m?.seq !== 'number') return list;
  const cv = list[i];
  if (m.seq <= Math.max(cv.last_message?.seq ?? 0, cv.read_seq ?? 0)) return list;
  const mine = m.sender_id === me;
  const row: Conversation = {
    ...cv,
    last_message: m,
    last_seq: Math.max(cv.last_seq ?? 0, m.seq),
    unread: mine ? 0 : (cv.unread ?? 0) + 1,
    read_seq: mine ? m.seq : cv.read_seq,
    updated_at: m.sent_at,
  };
  const rest = list.filter((_, k) => k !== i);
  const at = cv.pinned ? i : rest.findIndex((x) => !x.pinned);
  rest.splice(at < 0 ? rest.length : at, 0, row);
  return rest;
}

function ChatList({ c, active, heading }: { c: Ctx; active?: string; heading: 1 | 2 }) {
  useRemarks();
  useMentions();
  const [list, setList] = useState<Conversation[] | null>(lastList);
  const [filter, setFilter] = useState('');
  // Right-click (or a long press, which is a contextmenu on phones) on a row: pin or unpin it.
  const [rowMenu, setRowMenu] = useState<string | null>(null);
  const action = useAction();
  async function pinRow(cv: Conversation) {
    setRowMenu(null);
    const ok = await action.run(() => convApi.pin(cv.id, !cv.pinned));
    if (ok) {
      action.setInfo(cv.pinned ? vt('unpinnedDone') : vt('pinnedDone'));
      load();
    }
  }
  const load = () =>
    chat.list().then(
      (r) => {
        // Pinned chats first (the server sorts them so; kept if it does not).
        const l = [...(r.conversations ?? [])].sort((a, b) => Number(!!b.pinned) - Number(!!a.pinned));
        lastList = l;
        setList(l);
        action.setError(null);
      },
      (e) => action.setError(e),
    );
  useEffect(() => {
    load();
  }, []);
  const head = useRef<HTMLElement>(null);
  useLayoutEffect(() => {
    // On a desktop the list scrolls in its own pane: the chats tab's, then
    // the one beside the open chat (which stays mounted from chat to chat);
    // the first chat opened from the tab found the list at the top.
    const pane = head.current?.closest<HTMLElement>('.split-list');
    if (pane) {
      if (list && paneScrollTop > 0) pane.scrollTop = paneScrollTop;
      const save = () => (paneScrollTop = pane.scrollTop);
      pane.addEventListener('scroll', save, { passive: true });
      return () => pane.removeEventListener('scroll', save);
    }
    // On a phone the list is a page of its own.
    if (heading !== 1) return;
    if (list && listScrollY > 0) window.scrollTo(0, listScrollY);
    // Only while the list is what the address shows: leaving it, the page
    // is scrolled to the top (and reports it) before the list is gone.
    const save = () => {
      if (location.pathname === '/chats') listScrollY = window.scrollY;
    };
    window.addEventListener('scroll', save, { passive: true });
    return () => window.removeEventListener('scroll', save);
  }, []);
  useLive(load, ['message', 'sync', 'conversation', 'recall', 'read', 'receipt']);
  // A message shows in its row at once (preview, time, badge, order); the
  // refresh above then brings the server's word on the rest.
  useEffect(
    () =>
      onFrame((fr) => {
        if (fr.type !== 'message') return;
        setList((l) => {
          const n = l && withMessage(l, fr.conversation_id, fr.message, c.user.id);
          if (n && n !== l) lastList = n;
          return n;
        });
      }),
    [],
  );
  const f = filter.trim().toLowerCase();
  const shown = (list ?? []).filter((cv) => !f || convTitle(cv).toLowerCase().includes(f) || preview(cv.last_message, c.user.id).toLowerCase().includes(f));
  const H = heading === 1 ? 'h1' : 'h2';

  return (
    <>
      <header class="page-header list-header" ref={head}>
        <H tabIndex={-1} class="list-title">
          {t('tab.chats')}
        </H>
        <a class="button secondary small-button" {...link('/contacts/new-group')}>
          {t('group.new')}
        </a>
        <a class="button secondary small-button" {...link('/contacts/add')}>
          {t('contacts.add')}
        </a>
      </header>
      <Search me={c.user.id} onFilter={setFilter} />
      <Notices error={action.error} info={action.info} />
      {list === null ? (
        !action.error && <p class="muted">{t('app.loading')}</p>
      ) : list.length === 0 ? (
        <div class="empty">
          <h2>{t('chat.none')}</h2>
          <p>{t('chat.noneHint')}</p>
          <a class="button primary" {...link('/contacts')}>
            {t('tab.contacts')}
          </a>
        </div>
      ) : (
        <ul class="list card chats" aria-label={t('tab.chats')}>
          {shown.map((cv) => {
            const name = convTitle(cv);
            // The chat open beside the list is being read: no badge for it.
            const unread = cv.id === active ? 0 : cv.unread ?? 0;
            const last = cv.last_message;
            const prev = preview(last, c.user.id);
            return (
              <li key={cv.id}>
                <a
                  class={cv.id === active ? 'chat-row chat-row-active' : 'chat-row'}
                  {...link(`/chats/${encodeURIComponent(cv.id)}`)}
                  aria-current={cv.id === active ? 'page' : undefined}
                  data-conversation-id={cv.id}
                  onContextMenu={(e) => {
                    e.preventDefault();
                    setRowMenu(rowMenu === cv.id ? null : cv.id);
                  }}
                >
                  <span class="chat-avatar">
                    {cv.kind === 'group' ? (
                      <span class="avatar avatar-small avatar-group" aria-hidden="true">
                        {Array.from(name)[0]?.toUpperCase() ?? '#'}
                      </span>
                    ) : (
                      <UserAvatar user={cv.peer} />
                    )}
                    {unread > 0 && (
                      <span class={cv.muted ? 'unread-dot' : 'unread-badge'} aria-hidden="true">
                        {cv.muted ? '' : unread > 99 ? '99+' : unread}
                      </span>
                    )}
                  </span>
                  <span class="chat-main">
                    <span class="chat-top">
                      <span class="chat-name">
                        {cv.pinned && <span class="pin-mark" aria-label={ct('pinned')}>📌 </span>}
                        {name}
                      </span>
                      <span class="chat-time muted small">{shortTime(last?.sent_at ?? cv.updated_at)}</span>
                    </span>
                    <span class={last?.sender_deleted ? 'chat-preview muted small deleted-text' : 'chat-preview muted small'} dir="auto">
                      {cv.id !== active && hasMention(cv, c.user.id) && (
                        <span class="mention-mark" title={vt('mentionedYouLong')}>
                          {vt('mentionedYou')}{' '}
                        </span>
                      )}
                      {prev || '\u00a0'}
                    </span>
                    {unread > 0 && <span class="sr-only">{t('chat.unread', { n: unread })}</span>}
                    {cv.muted && <span class="sr-only">{t('chat.muted')}</span>}
                  </span>
                </a>
                {rowMenu === cv.id && (
                  <div class="msg-menu row-menu" role="group" aria-label={vt('chatActions', { name })}>
                    <button type="button" class="secondary small-button" autoFocus onClick={() => pinRow(cv)}>
                      {cv.pinned ? vt('unpin') : vt('pin')}
                    </button>
                    <button type="button" class="secondary small-button" onClick={() => setRowMenu(null)}>
                      {t('common.cancel')}
                    </button>
                  </div>
                )}
              </li>
            );
          })}
          {shown.length === 0 && <li class="muted small card-pad">{t('search.none')}</li>}
        </ul>
      )}
    </>
  );
}

export function Chats(c: Ctx) {
  const wide = useWide();
  useEffect(() => {
    document.title = `${t('tab.chats')} · tkesj`;
    document.querySelector<HTMLElement>('.list-title')?.focus({ preventScroll: true });
  }, []);
  // The same tree at every width (only classes and the empty pane change), so
  // resizing the window across 900 px does not reload the list.
  return (
    <div class={wide ? 'split' : 'split-off'}>
      <main class={wide ? 'page split-list' : 'page'} id="main">
        <ChatList c={c} heading={1} />
      </main>
      {wide && (
        <div class="split-empty" aria-hidden="true">
          <p>{ct('pickChat')}</p>
        </div>
      )}
    </div>
  );
}

// ------------------------------------------------------- the windowed list

interface RowItem {
  key: string;
}

/**
 * A list that renders only the rows near the viewport. Row heights are
 * measured as rows render (estimated before) and again whenever a row changes
 * size (a picture or a voice note that loads late): a ResizeObserver watches
 * every rendered row. A spacer above and below stands in for the rest. The
 * view sticks to the bottom while the reader is there, and otherwise keeps
 * the first visible row in place when rows are added above (older pages) or
 * re-measured.
 */
function WindowedList<T extends RowItem>(p: {
  items: T[];
  render: (item: T) => ComponentChildren;
  onNearTop: () => void;
  label: string;
  header?: ComponentChildren;
  onBottom?: (atBottom: boolean) => void;
  /** Set to a function that scrolls to the newest row. */
  jump?: { current: (() => void) | null };
  /** Set to a function that brings the row with a key into view; false if there is none. */
  go?: { current: ((key: string) => boolean) | null };
}) {
  const ref = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const stick = useRef(true);
  const lastTop = useRef(0);
  const anchor = useRef<{ key: string; delta: number } | null>(null);
  const ro = useRef<ResizeObserver | null>(null);
  const observed = useRef(new Set<Element>());
  const [view, setView] = useState({ top: 0, height: 600 });
  const [, setTick] = useState(0);
  const EST = 64;
  const OVER = 800;

  // Prefix sums of the row heights; cheap enough to redo on every render.
  const offsets = new Array<number>(p.items.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < p.items.length; i++) offsets[i + 1] = offsets[i] + (heights.current.get(p.items[i].key) ?? EST);

  const total = offsets[p.items.length];
  let start = 0;
  while (start < p.items.length && offsets[start + 1] < view.top - OVER) start++;
  let end = start;
  while (end < p.items.length && offsets[end] < view.top + view.height + OVER) end++;

  function headerHeight() {
    const h = ref.current?.querySelector<HTMLElement>('.wl-header');
    return h ? h.offsetHeight : 0;
  }

  function toBottom() {
    const el = ref.current;
    if (!el) return;
    stick.current = true;
    el.scrollTop = el.scrollHeight;
  }
  if (p.jump) p.jump.current = toBottom;

  function goTo(key: string): boolean {
    const el = ref.current;
    const i = p.items.findIndex((x) => x.key === key);
    if (!el || i < 0) return false;
    stick.current = false;
    const delta = -Math.round(el.clientHeight / 3);
    anchor.current = { key, delta };
    el.scrollTop = Math.max(0, offsets[i] + delta + headerHeight());
    setView({ top: Math.max(0, offsets[i] + delta), height: el.clientHeight });
    // Rows near it are measured on the next renders: centre it once they are.
    const centre = () => el.querySelector<HTMLElement>(`[data-row="${key}"]`)?.scrollIntoView({ block: 'center' });
    requestAnimationFrame(() => requestAnimationFrame(centre));
    window.setTimeout(centre, 300);
    return true;
  }
  if (p.go) p.go.current = goTo;

  function onScroll() {
    const el = ref.current;
    if (!el) return;
    // Only the reader moving up leaves the bottom. Content that grows below
    // (a picture loading) also leaves a gap, but scrollTop does not go down:
    // then the view follows instead of letting go.
    const prev = lastTop.current;
    lastTop.current = el.scrollTop;
    const near = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    if (near) stick.current = true;
    else if (el.scrollTop < prev - 1) stick.current = false;
    else if (stick.current) el.scrollTop = el.scrollHeight;
    p.onBottom?.(stick.current);
    // Remember the first visible row, to keep it in place when rows change.
    const top = el.scrollTop - headerHeight();
    let i = 0;
    while (i < p.items.length - 1 && offsets[i + 1] <= top) i++;
    anchor.current = p.items[i] ? { key: p.items[i].key, delta: top - offsets[i] } : null;
    if (el.scrollTop < 400) p.onNearTop();
    setView({ top: Math.max(0, top), height: el.clientHeight });
  }

  /** Re-reads the rendered rows' heights; answers whether any changed. */
  function measure(): boolean {
    const el = ref.current;
    if (!el) return false;
    let changed = false;
    el.querySelectorAll<HTMLElement>('[data-row]').forEach((row) => {
      const k = row.dataset.row!;
      const h = row.offsetHeight;
      if (heights.current.get(k) !== h) {
        heights.current.set(k, h);
        changed = true;
      }
    });
    return changed;
  }

  /** Puts the view where it belongs: at the bottom, or with the anchor row in place. */
  function place() {
    const el = ref.current;
    if (!el) return;
    if (stick.current) {
      el.scrollTop = el.scrollHeight;
    } else if (anchor.current) {
      const i = p.items.findIndex((x) => x.key === anchor.current!.key);
      if (i >= 0) {
        const want = offsets[i] + anchor.current.delta + headerHeight();
        if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want;
      }
    }
  }

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    // Watch every rendered row: media that loads after this render changes
    // its height without a render of ours.
    if (ro.current) {
      for (const n of observed.current)
        if (!n.isConnected) {
          ro.current.unobserve(n);
          observed.current.delete(n);
        }
      el.querySelectorAll('[data-row]').forEach((n) => {
        if (!observed.current.has(n)) {
          observed.current.add(n);
          ro.current!.observe(n);
        }
      });
    }
    if (measure()) {
      setTick((n) => n + 1);
      return;
    }
    place();
    if (view.height !== el.clientHeight) setView((v) => ({ ...v, height: el.clientHeight }));
  });

  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const self = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
      setView((v) => ({ ...v, height: el.clientHeight }));
    });
    self.observe(el);
    ro.current = new ResizeObserver(() => {
      if (measure()) {
        // Keep the bottom (or the anchor) before the next paint, then
        // re-render with the new offsets.
        if (stick.current) el.scrollTop = el.scrollHeight;
        setTick((n) => n + 1);
      }
    });
    return () => {
      self.disconnect();
      ro.current?.disconnect();
      ro.current = null;
      observed.current.clear();
    };
  }, []);

  return (
    <div class="wl" ref={ref} onScroll={onScroll} role="log" aria-label={p.label} tabIndex={0}>
      {p.header && <div class="wl-header">{p.header}</div>}
      <div style={{ height: `${offsets[start]}px` }} aria-hidden="true" />
      {p.items.slice(start, end).map((it) => (
        <div key={it.key} data-row={it.key}>
          {p.render(it)}
        </div>
      ))}
      <div style={{ height: `${total - offsets[end]}px` }} aria-hidden="true" />
    </div>
  );
}

// ------------------------------------------------------------ one message

/** The picture and video viewer: a modal dialog; Esc, the Close button or a click outside close it. */
function Viewer({ kind, url, onClose }: { kind: 'image' | 'video'; url: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [src, setSrc] = useState('');
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    blobURL(url).then(setSrc, setErr);
  }, []);
  const label = kind === 'image' ? ct('viewPicture') : ct('viewVideo');
  return (
    <dialog
      ref={ref}
      class="viewer"
      aria-label={label}
      onClose={onClose}
      onClick={(e) => {
        if (e.target === ref.current) ref.current?.close();
      }}
    >
      {err ? (
        <p>{errorText(err)}</p>
      ) : !src ? (
        <p>{t('app.loading')}</p>
      ) : kind === 'image' ? (
        <img src={src} alt={t('chat.kind.image')} />
      ) : (
        <video src={src} controls autoPlay aria-label={t('chat.kind.video')} />
      )}
      <button type="button" class="secondary" autoFocus onClick={() => ref.current?.close()}>
        {t('common.close')}
      </button>
    </dialog>
  );
}

/**
 * A picture still in the outbox, shown from the file itself: on a slow
 * connection the upload takes seconds, and "[Picture]" alone did not say
 * which. The URL is made once (the outbox hands out a new Blob object on
 * each change, and drops it once uploaded) and freed with the row.
 */
function PendingPicture({ file, label }: { file?: Blob; label: string }) {
  const [src] = useState(() => (file?.type.startsWith('image/') ? URL.createObjectURL(file) : ''));
  useEffect(() => () => void (src && URL.revokeObjectURL(src)), [src]);
  return src ? <img class="thumb" src={src} alt={label} /> : <RichText text={label} />;
}

function MediaView({ m }: { m: Message }) {
  const media = m.media;
  const [open, setOpen] = useState(false);
  const [src, setSrc] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const url = media ? media.url || `/api/v1/media/${media.id}` : '';
  useEffect(() => {
    if (url && m.kind === 'voice') blobURL(url).then(setSrc, setErr);
  }, [url]);
  if (!media) return <span class="muted">{t('media.unavailable')}</span>;
  if (m.kind === 'image' || m.kind === 'video')
    return (
      <>
        {m.kind === 'image' ? (
          <button type="button" class="thumb-button" onClick={() => setOpen(true)} aria-label={t('chat.openPicture')}>
            <AuthImg class="thumb" src={`${url}?thumb=1`} alt={t('chat.kind.image')} />
          </button>
        ) : (
          <button type="button" class="video-tile" onClick={() => setOpen(true)} aria-label={ct('playVideo')}>
            <span aria-hidden="true">▶</span>
            <span class="small">
              {t('chat.kind.video')} {formatBytes(media.size)}
            </span>
          </button>
        )}
        {open && <Viewer kind={m.kind} url={url} onClose={() => setOpen(false)} />}
      </>
    );
  if (m.kind === 'voice') {
    const secs = Number((media.meta as { duration_ms?: number; duration?: number } | undefined)?.duration_ms ?? 0) / 1000;
    return (
      <span class="voice">
        <span class="small">
          {t('chat.kind.voice')}
          {secs > 0 && ` ${Math.round(secs)}″`}
        </span>
        {src ? (
          <audio controls src={src} preload="metadata" aria-label={t('chat.kind.voice')} />
        ) : err ? (
          <span class="muted small">{t('media.unavailable')}</span>
        ) : (
          <span class="audio-placeholder" aria-hidden="true" />
        )}
      </span>
    );
  }
  const name = m.text || (media.mime ? `${t('chat.kind.file')} (${media.mime})` : t('chat.kind.file'));
  return (
    <button
      type="button"
      class="file-chip"
      onClick={() =>
        blobURL(url).then(
          (u) => saveBlob(u, m.text || `tkesj-${media.id}`),
          (e) => setErr(e),
        )
      }
    >
      <Icon name="file" /> <span dir="auto">{name}</span> <span class="muted small">{formatBytes(media.size)}</span>
      {err ? <span class="error-text small"> {errorText(err)}</span> : null}
    </button>
  );
}

function Content({ m, marks, mine }: { m: Message; marks?: string[]; mine?: boolean }) {
  if (m.sender_deleted) return <span class="deleted-text">{t('chat.fromDeleted')}</span>;
  if (m.unreadable) return <span class="deleted-text">{t('chat.unreadable')}</span>;
  switch (m.kind) {
    case 'text':
      return marks?.length ? <MentionText text={m.text ?? ''} names={marks} mine={!!mine} /> : <RichText text={m.text ?? ''} />;
    case 'history':
      return <HistoryCard items={m.history?.items ?? []} />;
    case 'location': {
      const l = m.location!;
      return (
        <span>
          <Icon name="pin" size={16} /> <span dir="auto">{l?.name || t('chat.kind.location')}</span>{' '}
          <a href={`https://www.openstreetmap.org/?mlat=${l?.lat}&mlon=${l?.lng}#map=16/${l?.lat}/${l?.lng}`} target="_blank" rel="noopener noreferrer">
            {l ? `${l.lat.toFixed(5)}, ${l.lng.toFixed(5)}` : ''}
          </a>
        </span>
      );
    }
    case 'card':
      return (
        <span dir="auto">
          {t('chat.kind.card')}: {m.card?.nickname} ({m.card?.username})
        </span>
      );
    case 'call':
      return <span class="call-record">{callRecordText(m)}</span>;
  }
  return <MediaView m={m} />;
}

type Row = RowItem & { day?: string; unreadMark?: boolean } & ({ kind: 'msg'; m: Message } | { kind: 'pending'; p: OutItem });

// The local day of each message, worked out once per message object (a
// burst of messages re-renders the list once per message).
const dayKeys = new WeakMap<Message, string>();
function dayKey(m: Message): string {
  let k = dayKeys.get(m);
  if (k === undefined) dayKeys.set(m, (k = new Date(m.sent_at!).toDateString()));
  return k;
}

/** "Today", "Yesterday", or the date, for the separators between days. */
function dayLabel(d: Date): string {
  const today = new Date();
  const y = new Date(today);
  y.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return ct('today');
  if (d.toDateString() === y.toDateString()) return ct('yesterday');
  return dateFormat({ weekday: 'short', year: d.getFullYear() === today.getFullYear() ? undefined : 'numeric', month: 'long', day: 'numeric' }).format(d);
}

// Drafts: what was typed in each chat, kept while the tab lives (and over a
// reload of it), so leaving a chat loses nothing.
const drafts = new Map<string, string>();
function draftKey(user: string, conv: string) {
  return `tkesj.draft.${user}.${conv}`;
}
function loadDraft(user: string, conv: string): string {
  const k = draftKey(user, conv);
  if (drafts.has(k)) return drafts.get(k)!;
  try {
    return sessionStorage.getItem(k) ?? '';
  } catch {
    return '';
  }
}
function saveDraft(user: string, conv: string, text: string) {
  const k = draftKey(user, conv);
  drafts.set(k, text);
  try {
    if (text) sessionStorage.setItem(k, text);
    else sessionStorage.removeItem(k);
  } catch {
    // storage disabled: the draft lives in memory only
  }
}

/** The server's limit for a text message, in characters (code points), as in internal/service/messages.go. */
export const MAX_TEXT = 5000;
const countChars = (s: string) => Array.from(s).length;

// ------------------------------------------------------- the conversation

export function ConversationScreen(c: Ctx) {
  const wide = useWide();
  // The chat keeps its place in the tree at every width, so resizing the
  // window across 900 px neither reloads it nor loses the reader's place.
  return (
    <div class={wide ? 'split' : 'split-off'}>
      {wide && (
        <section class="page split-list" aria-labelledby="split-list-title">
          <span id="split-list-title" class="sr-only">
            {ct('allChats')}
          </span>
          <ChatList c={c} active={c.params[0]} heading={2} />
        </section>
      )}
      {/* Keyed by the chat: going from one chat to another (the list beside
          it stays mounted) starts a fresh view, so nothing of the last chat
          (its draft, the message being replied to, its read receipts) is
          carried into the next. */}
      <ChatView key={c.params[0]} c={c} />
    </div>
  );
}

function ChatView({ c }: { c: Ctx }) {
  const id = c.params[0];
  const me = c.user.id;
  useRemarks();
  const [conv, setConv] = useState<Conversation | null>(null);
  const [msgs, setMsgs] = useState<Message[]>(store.get(id));
  const [pending, setPending] = useState<OutItem[]>([]);
  const [text, setText] = useState(() => loadDraft(me, id));
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [complete, setComplete] = useState(store.complete.has(id));
  const [typing, setTyping] = useState<Record<string, number>>({});
  const [peerRead, setPeerRead] = useState(0);
  const [peerDelivered, setPeerDelivered] = useState(0);
  const [menu, setMenu] = useState<number | null>(null);
  const [reporting, setReporting] = useState<Message | null>(null);
  const [recording, setRecording] = useState<{ rec: MediaRecorder; stream: MediaStream; started: number } | null>(null);
  const [now, setNow] = useState(Date.now());
  const [newCount, setNewCount] = useState(0);
  // Messages after this seq were unread when the chat was opened: the
  // "New messages" line goes above the first of them.
  const [unreadAfter, setUnreadAfter] = useState<number | null>(null);
  // Issue 15: the message being replied to, the mentions picked in the
  // composer, the "@" being typed, selection (for forwarding) and the
  // message just jumped to (highlighted for a moment).
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [picks, setPicks] = useState<MentionPick[]>([]);
  const [mq, setMq] = useState<{ start: number; q: string } | null>(null);
  const [mActive, setMActive] = useState(0);
  const [selecting, setSelecting] = useState<number[] | null>(null);
  const [forwarding, setForwarding] = useState<number[] | null>(null);
  const [flash, setFlash] = useState<number | null>(null);
  const go = useRef<((key: string) => boolean) | null>(null);
  const action = useAction();
  const atBottom = useRef(true);
  const seenSeq = useRef(0);
  const lastRead = useRef(0);
  const lastTyping = useRef(0);
  const older = useRef(false);
  const opened = useRef(false);
  const jump = useRef<(() => void) | null>(null);
  const textRef = useRef<HTMLTextAreaElement>(null);

  const members = useMemo(() => {
    const m = new Map<string, Member>();
    for (const x of conv?.members ?? []) m.set(x.id, x);
    return m;
  }, [conv]);

  async function loadConv() {
    const cv = await chat.get(id);
    setConv(cv);
    if (cv.kind === 'direct') {
      const peer = cv.members?.find((x) => x.id !== me);
      if (peer?.read_seq) setPeerRead((r) => Math.max(r, peer.read_seq!));
    }
    return cv;
  }

  // The conversation and its newest page. Opening a conversation (or hearing
  // that its members changed, e.g. an account was destroyed) starts from a
  // fresh page, so what is shown is what the server serves now.
  async function fresh(first = false) {
    const cv = await loadConv();
    if (first && (cv.unread ?? 0) > 0 && typeof cv.read_seq === 'number') setUnreadAfter(cv.read_seq);
    const { messages } = await chat.messages(id, { before_seq: (cv.last_seq ?? 0) + 1, limit: PAGE });
    store.replace(id, messages ?? [], cv.last_seq ?? 0);
    const all = (messages ?? []).length < PAGE;
    if (all) store.complete.add(id);
    setComplete(all);
    setMsgs(store.get(id));
    ackLoaded(id);
    if (first) {
      opened.current = true;
      markRead();
      clearMention(id);
      // Opened at one message: a search result, or a link with ?at=seq.
      const at = Number(new URLSearchParams(location.search).get('at'));
      const want = pendingJump?.conv === id ? pendingJump.seq : at > 0 ? at : 0;
      pendingJump = null;
      if (want) jumpTo(want);
    }
  }

  /**
   * Shows one message: older pages are loaded until it is held (or the
   * beginning is reached), then it is scrolled into view and highlighted.
   * One that is gone (recalled, expired, deleted for me) is said to be.
   */
  async function jumpTo(seq: number) {
    const held = () => store.get(id).some((m) => m.seq === seq);
    if (!held() && !store.complete.has(id)) {
      action.setInfo(vt('findingOriginal'));
      try {
        for (let i = 0; i < 100 && !held() && !store.complete.has(id); i++) {
          const min = store.minSeq(id);
          if (!min || min <= seq) break;
          const { messages } = await chat.messages(id, { before_seq: min, limit: 100 });
          store.merge(id, messages ?? []);
          if ((messages ?? []).length < 100) {
            store.complete.add(id);
            setComplete(true);
          }
        }
      } catch (e) {
        action.setError(e);
        return;
      }
      action.setInfo('');
    }
    const m = store.get(id).find((x) => x.seq === seq);
    if (!m || m.recalled || (m.expires_at && Date.parse(m.expires_at) <= Date.now())) {
      action.setInfo(vt('quoteUnavailable'));
      return;
    }
    setMsgs(store.get(id));
    requestAnimationFrame(() => {
      go.current?.(`s${seq}`);
      setFlash(seq);
      window.setTimeout(() => setFlash((f) => (f === seq ? null : f)), 2500);
    });
  }
  useEffect(() => {
    liveJump = { conv: id, go: (seq) => jumpTo(seq) };
    return () => {
      if (liveJump?.conv === id) liveJump = null;
    };
  }, [id]);
  useEffect(() => {
    startOutbox(me);
    const off = store.subscribe(id, () => setMsgs(store.get(id)));
    // If the first page fails (the network gone as the chat opens, with no
    // offline copy of it), this tab holds nothing of the chat, so no
    // catch-up pulls it and messages from this person's other tabs and
    // devices never come: it is tried again after each catch-up (a socket
    // is back) until it loads. A refusal (not a member, no such chat) is
    // final: asking again would only be refused again.
    let done = false;
    let loading = false;
    const first = () => {
      if (done || loading) return;
      loading = true;
      action
        .run(() =>
          fresh(true).catch((e) => {
            if (e instanceof ApiError && e.status !== 0 && e.status !== 429 && e.status < 500) done = true;
            throw e;
          }),
        )
        .then((ok) => {
          loading = false;
          done ||= ok;
        });
    };
    first();
    const offSync = onFrame((f) => f.type === 'sync' && first());
    const tick = window.setInterval(() => setNow(Date.now()), 15_000);
    const loadPending = () => pendingFor(me, id).then(setPending, () => {});
    loadPending();
    const offOut = onOutbox(loadPending);
    return () => {
      off();
      offSync();
      offOut();
      window.clearInterval(tick);
    };
  }, [id]);

  // Frames for this conversation: receipts, typing, changes to the group.
  useEffect(
    () =>
      onFrame((f) => {
        if (f.conversation_id !== id) return;
        if (f.type === 'receipt' && f.user_id !== me) {
          if (typeof f.read_seq === 'number') setPeerRead((r) => Math.max(r, f.read_seq));
          if (typeof f.delivered_seq === 'number') setPeerDelivered((r) => Math.max(r, f.delivered_seq));
        }
        if (f.type === 'typing' && f.user_id !== me) setTyping((x) => ({ ...x, [f.user_id]: Date.now() }));
        if (f.type === 'message' && f.message?.sender_id) setTyping((x) => ({ ...x, [f.message.sender_id]: 0 }));
        // members_changed also comes when the other person of a direct chat
        // destroys their account: the chat is re-read at once.
        if (f.type === 'conversation') (f.event === 'members_changed' ? fresh() : loadConv()).catch(() => {});
      }),
    [id],
  );

  // Esc leaves selection, as it closes menus.
  useEffect(() => {
    if (!selecting) return;
    const f = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !document.querySelector('dialog[open]')) setSelecting(null);
    };
    window.addEventListener('keydown', f);
    return () => window.removeEventListener('keydown', f);
  }, [!!selecting]);

  // Disappearing messages leave the open view when they expire (the server
  // drops them too); a timer fires at the next expiry.
  useEffect(() => {
    const now = Date.now();
    let next = Infinity;
    for (const m of msgs) {
      if (!m.expires_at) continue;
      const at = Date.parse(m.expires_at);
      if (at <= now) store.remove(id, m.seq);
      else next = Math.min(next, at);
    }
    if (next === Infinity) return;
    const tm = window.setTimeout(() => setNow(Date.now()), Math.min(next - now + 50, 2 ** 31 - 1));
    return () => window.clearTimeout(tm);
  }, [msgs, now]);

  // Typing indicators fade after 5 s.
  useEffect(() => {
    const live = Object.values(typing).some((at) => at && Date.now() - at < 5000);
    if (!live) return;
    const tm = window.setTimeout(() => setTyping((x) => ({ ...x })), 1000);
    return () => window.clearTimeout(tm);
  }, [typing]);

  // Read: while the newest message is on screen and the tab is visible.
  function markRead() {
    // Not before the chat's own state is in: its read_seq places the "New messages" line.
    if (!opened.current) return;
    const max = store.maxSeq(id);
    if (!max || max <= lastRead.current || !atBottom.current || document.visibilityState !== 'visible') return;
    lastRead.current = max;
    if (sendFrame({ type: 'read', conversation_id: id, seq: max })) window.setTimeout(() => notifyRead(id), 300);
    else chat.read(id, max).then(() => notifyRead(id), () => {});
  }
  useEffect(() => {
    markRead();
    // Messages from others that arrived while the reader was scrolled up.
    if (atBottom.current) {
      seenSeq.current = store.maxSeq(id);
      setNewCount(0);
    } else setNewCount(msgs.filter((m) => m.seq > seenSeq.current && m.sender_id !== me).length);
  }, [msgs]);
  useEffect(() => {
    document.addEventListener('visibilitychange', markRead);
    return () => document.removeEventListener('visibilitychange', markRead);
  }, [id]);

  async function loadOlder() {
    if (older.current || complete || !msgs.length) return;
    older.current = true;
    setLoadingOlder(true);
    try {
      const { messages } = await chat.messages(id, { before_seq: store.minSeq(id), limit: PAGE });
      store.merge(id, messages ?? []);
      if ((messages ?? []).length < PAGE) {
        store.complete.add(id);
        setComplete(true);
      }
    } catch (e) {
      action.setError(e);
    } finally {
      older.current = false;
      setLoadingOlder(false);
    }
  }

  function queue(it: Omit<OutItem, 'client_id' | 'created' | 'status' | 'user' | 'conv'>) {
    atBottom.current = true;
    jump.current?.();
    // A picture, file, voice note or location sent while replying quotes too.
    const q = replyTo && !it.reply_to ? { reply_to: replyTo.seq, reply_label: `${senderName(replyTo)}: ${preview(replyTo, me)}` } : {};
    if (replyTo) setReplyTo(null);
    return enqueue({ ...it, ...q, conv: id });
  }

  const chars = countChars(text);
  const tooLong = chars > MAX_TEXT;

  function submit(e?: Event) {
    e?.preventDefault();
    const s = text.trim();
    if (!s || tooLong) return;
    setText('');
    saveDraft(me, id, '');
    lastTyping.current = 0; // the next keystroke announces typing again
    // Mentions: those picked whose "@name" is still in the text.
    const named = picks.filter((p) => s.includes(`@${p.name}`));
    const mentions = [...new Set(named.filter((p) => p.id !== '*').map((p) => p.id))];
    const all = named.some((p) => p.id === '*');
    queue({
      kind: 'text',
      text: s,
      label: s,
      ...(mentions.length ? { mentions } : {}),
      ...(all ? { mention_all: true } : {}),
    });
    setPicks([]);
    setMq(null);
  }

  const group = conv?.kind === 'group';
  const canAll = group && (conv?.role === 'owner' || conv?.role === 'admin');
  const mOpts = group && mq ? mentionOptions(conv?.members ?? [], me, !!canAll, mq.q) : [];

  function pickMention(p: MentionPick) {
    const el = textRef.current;
    if (!mq || !el) return;
    const caret = el.selectionStart ?? text.length;
    // The name written is the member's own nickname (what others see), not a remark.
    const member = (conv?.members ?? []).find((x) => x.id === p.id);
    const name = p.id === '*' ? p.name : member?.nickname || member?.username || p.name;
    const v = `${text.slice(0, mq.start)}@${name} ${text.slice(caret)}`;
    setPicks((l) => [...l.filter((x) => x.id !== p.id), { id: p.id, name }]);
    setMq(null);
    onInput(v, false);
    const pos = mq.start + name.length + 2;
    requestAnimationFrame(() => {
      el.focus();
      // The caret goes after the name, unless the person has typed on
      // already (a fast typist, or a busy device where this frame came
      // late): moving it then would put their next letters mid-word.
      if (el.value === v) el.setSelectionRange(pos, pos);
    });
  }

  function startReply(m: Message) {
    setMenu(null);
    setSelecting(null);
    setReplyTo(m);
    requestAnimationFrame(() => textRef.current?.focus());
  }

  function onKey(e: KeyboardEvent) {
    if (mOpts.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setMActive((i) => (i + (e.key === 'ArrowDown' ? 1 : mOpts.length - 1)) % mOpts.length);
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.isComposing) {
        e.preventDefault();
        pickMention(mOpts[Math.min(mActive, mOpts.length - 1)]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setMq(null);
        return;
      }
    }
    if (e.key === 'Escape' && replyTo) {
      e.preventDefault();
      setReplyTo(null);
      return;
    }
    // Enter sends; Shift+Enter breaks the line; Enter that ends an input
    // method's composition (Chinese pinyin, say) only picks the characters.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  }

  function onInput(v: string, look = true) {
    setText(v);
    saveDraft(me, id, v);
    // The "@query" is followed in every chat: the chat's info (is it a
    // group, its members) may arrive after the typing started, and the list
    // then opens on what was already typed. mOpts stays empty elsewhere.
    if (look) {
      const q = mentionQuery(v, textRef.current?.selectionStart ?? v.length);
      setMq(q);
      if (q?.q !== mq?.q) setMActive(0);
    }
    if (v && Date.now() - lastTyping.current > 3000) {
      lastTyping.current = Date.now();
      sendFrame({ type: 'typing', conversation_id: id });
    }
  }

  async function pickMedia(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    if (!files.length) return;
    await action.run(async () => {
      // Picking a picture is the person allowing the album, recorded as such.
      await api.setPermission('album', true).catch((err) => {
        if (!(err instanceof ApiError && err.status === 0)) throw err;
      });
      for (const f of files) {
        const isMedia = /^(image|video)\//.test(f.type);
        // Not a picture or a video (a PDF, say): it goes as a file, and the person is told so.
        if (!isMedia) action.setInfo(ct('sentAsFile', { name: f.name }));
        const kind = f.type.startsWith('video/') ? 'video' : isMedia ? 'image' : 'file';
        await queue({ kind, file: f, name: f.name, source: 'album', label: isMedia ? t(kind === 'video' ? 'chat.kind.video' : 'chat.kind.image') : f.name });
      }
    });
  }

  async function pickFile(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const f = input.files?.[0];
    input.value = '';
    if (!f) return;
    await queue({ kind: 'file', file: f, name: f.name, label: f.name });
  }

  async function startVoice() {
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
      action.setError(t('chat.noRecorder'));
      return;
    }
    await action.run(async () => {
      let stream: MediaStream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch {
        throw t('chat.micDenied');
      }
      await api.setPermission('microphone', true);
      const type = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm'].find((x) => MediaRecorder.isTypeSupported(x));
      const rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      const chunks: Blob[] = [];
      rec.ondataavailable = (ev) => ev.data.size && chunks.push(ev.data);
      rec.onstop = async () => {
        stream.getTracks().forEach((tr) => tr.stop());
        if ((rec as MediaRecorder & { cancelled?: boolean }).cancelled) return;
        const blob = new Blob(chunks, { type: rec.mimeType || 'audio/webm' });
        await queue({ kind: 'voice', file: blob, name: blob.type.includes('ogg') ? 'voice.ogg' : 'voice.webm', label: t('chat.kind.voice') });
      };
      rec.start();
      setRecording({ rec, stream, started: Date.now() });
      action.setInfo(t('chat.recording'));
    });
  }

  function stopVoice(cancel: boolean) {
    if (!recording) return;
    (recording.rec as MediaRecorder & { cancelled?: boolean }).cancelled = cancel;
    recording.rec.stop();
    setRecording(null);
    action.setInfo(cancel ? t('chat.recordCancelled') : '');
  }

  async function sendLocation() {
    if (!navigator.geolocation) {
      action.setError(t('chat.noLocation'));
      return;
    }
    await action.run(async () => {
      const pos = await new Promise<GeolocationPosition>((res, rej) =>
        navigator.geolocation.getCurrentPosition(res, () => rej(t('chat.locationDenied')), { timeout: 15_000, maximumAge: 60_000 }),
      );
      await api.setPermission('location', true);
      await queue({ kind: 'location', location: { lat: pos.coords.latitude, lng: pos.coords.longitude, name: t('chat.myLocation') }, label: t('chat.kind.location') });
    });
  }

  async function recall(m: Message) {
    setMenu(null);
    await action.run(async () => {
      await chat.recall(id, m.seq);
      store.patch(id, m.seq, { recalled: true, text: undefined, media: undefined, location: undefined });
    });
  }

  async function saveFavorite(m: Message) {
    setMenu(null);
    const ok = await action.run(() => favorites.saveMessage(id, m.seq));
    if (ok) action.setInfo(vt('favoriteSaved'));
  }

  function forwardDone(n: number) {
    setForwarding(null);
    setSelecting(null);
    action.setInfo(vt('forwardDone', { n }));
  }

  function senderName(m: Message): string {
    if (m.sender_id === me) return displayName(c.user);
    if (m.sender_deleted) return t('chat.deletedAccount');
    return direct ? displayName(conv?.peer) : displayName(members.get(m.sender_id ?? ''));
  }

  /** The line a system message shows (a change of the disappearing timer, ...). */
  function systemText(m: Message): string {
    const sys = m.system;
    // Who caused it: the message's sender (API: "sender_id is who caused it").
    const actor = sys?.actor_id ?? m.sender_id;
    const who = actor ? (actor === me ? vt('you') : direct ? displayName(conv?.peer) : displayName(members.get(actor))) : '';
    if (sys && typeof sys.disappear_after_s === 'number')
      return sys.disappear_after_s ? vt('sysDisappearOn', { name: who, t: disappearLabel(sys.disappear_after_s) }) : vt('sysDisappearOff', { name: who });
    return m.text ?? '';
  }

  async function deleteForMe(m: Message) {
    setMenu(null);
    await action.run(async () => {
      await chat.deleteForMe(id, m.seq);
      store.remove(id, m.seq);
    });
  }

  const name = conv ? convTitle(conv) : t('app.loading');
  const direct = conv?.kind === 'direct';
  const peerGone = direct && conv?.peer && !conv.peer.unreadable && (conv.peer.deleted || !conv.peer.username);
  const typers = Object.entries(typing)
    .filter(([, at]) => at && Date.now() - at < 5000)
    .map(([uid]) => (direct ? displayName(conv?.peer) : displayName(members.get(uid))));

  // Rows: the messages, then what waits in the outbox (unless the server
  // already has it, as another tab may have sent it), with a date line above
  // the first message of each day and the "New messages" line.
  const sentIds = new Set(msgs.map((m) => m.client_id).filter(Boolean));
  const rows: Row[] = [];
  let prevDay = '';
  let marked = false;
  for (const m of msgs) {
    if (m.expires_at && Date.parse(m.expires_at) <= now) continue;
    const d = m.sent_at ? new Date(m.sent_at) : null;
    const dk = d ? dayKey(m) : prevDay;
    const r: Row = { key: `s${m.seq}`, kind: 'msg', m };
    if (d && dk !== prevDay) r.day = dayLabel(d);
    prevDay = dk;
    if (!marked && unreadAfter !== null && m.seq > unreadAfter && m.sender_id !== me) {
      r.unreadMark = true;
      marked = true;
    }
    rows.push(r);
  }
  for (const p of pending) if (!sentIds.has(p.client_id)) rows.push({ key: `p${p.client_id}`, kind: 'pending', p });

  function status(m: Message): string {
    if (m.sender_id !== me || peerGone) return '';
    if (!direct) return t('chat.sent');
    if (peerRead >= m.seq) return t('chat.read');
    if (peerDelivered >= m.seq) return t('chat.delivered');
    return t('chat.sent');
  }

  function renderPending(p: OutItem) {
    const failed = p.status === 'failed';
    return (
      <div class="msg mine" data-outbox={p.status}>
        <div class="msg-body">
          <div class={`bubble pending${failed ? ' failed' : ''}${p.kind === 'image' ? ' bubble-image' : ''}`}>
            {p.reply_label && (
              <span class="quote quote-static">
                <span class="quote-text" dir="auto">
                  {p.reply_label}
                </span>
              </span>
            )}
            {p.kind === 'image' ? <PendingPicture file={p.file} label={p.label} /> : <RichText text={p.label} />}
          </div>
          <p class="msg-meta small">
            {failed && p.code === 'not_found' && p.reply_to ? (
              <>
                {/* The quoted message went (recalled, expired) before this reply reached the server. */}
                <span class="error-text">{vt('replyGone')}</span>{' '}
                <button type="button" class="link-button" onClick={() => retry({ ...p, reply_to: undefined, reply_label: undefined })}>
                  {vt('sendWithoutQuote')}
                </button>
                <button type="button" class="link-button" onClick={() => discard(p)}>
                  {ct('discard')}
                </button>
              </>
            ) : failed ? (
              <>
                <span class="error-text">{p.code === 'not_found' ? ct('cantDeliver') : p.error || ct('failed')}</span>{' '}
                <button type="button" class="link-button" onClick={() => retry(p)}>
                  {t('common.retry')}
                </button>
                <button type="button" class="link-button" onClick={() => discard(p)}>
                  {ct('discard')}
                </button>
              </>
            ) : p.status === 'sending' ? (
              // A send the server refused as busy (its code is kept) goes
              // again by itself after a pause that may last a minute:
              // "Sending…" all that while read as stuck.
              <span class="muted">{p.code ? ct('busy') : t('chat.sending')}</span>
            ) : (
              <span class="muted">{ct('waiting')}</span>
            )}
          </p>
        </div>
      </div>
    );
  }

  /** Touch: swipe a message to the right to reply; hold it for its actions. Right-click opens them too. */
  // The touch gesture under way (kept in a ref: a render in the middle must not lose it).
  const touch = useRef<{ x: number; y: number; id: number; seq: number; hold?: number } | null>(null);
  function gestures(m: Message) {
    const end = (el: HTMLElement) => {
      window.clearTimeout(touch.current?.hold);
      el.style.transform = '';
      touch.current = null;
    };
    return {
      onPointerDown: (e: PointerEvent) => {
        if (e.pointerType !== 'touch' || selecting) return;
        touch.current = { x: e.clientX, y: e.clientY, id: e.pointerId, seq: m.seq, hold: window.setTimeout(() => setMenu(m.seq), 550) };
      },
      onPointerMove: (e: PointerEvent) => {
        const st = touch.current;
        if (!st || e.pointerId !== st.id || st.seq !== m.seq) return;
        const dx = e.clientX - st.x;
        const dy = e.clientY - st.y;
        if (Math.abs(dx) > 8 || Math.abs(dy) > 8) window.clearTimeout(st.hold);
        if (Math.abs(dy) > 30) return end(e.currentTarget as HTMLElement);
        if (dx > 0) (e.currentTarget as HTMLElement).style.transform = `translateX(${Math.min(dx, 80)}px)`;
      },
      onPointerUp: (e: PointerEvent) => {
        const st = touch.current;
        if (!st || st.seq !== m.seq) return;
        const dx = e.clientX - st.x;
        end(e.currentTarget as HTMLElement);
        if (dx > 64) startReply(m);
      },
      onPointerCancel: (e: PointerEvent) => end(e.currentTarget as HTMLElement),
      onContextMenu: (e: MouseEvent) => {
        if (selecting) return;
        e.preventDefault();
        setMenu(m.seq);
      },
    };
  }

  function toggleSelect(seq: number) {
    if (selecting && !selecting.includes(seq) && selecting.length >= MAX_FORWARD) {
      action.setInfo(vt('selectMax', { n: MAX_FORWARD }));
      return;
    }
    setSelecting((l) => (l ? (l.includes(seq) ? l.filter((x) => x !== seq) : [...l, seq]) : [seq]));
  }

  function renderMsg(m: Message) {
    if (m.kind === 'system')
      return (
        <p class="msg-system small muted" data-seq={m.seq} data-kind="system">
          {systemText(m)}
        </p>
      );
    if (m.recalled)
      return (
        <p class="msg-system small muted" data-seq={m.seq}>
          {m.sender_id === me ? t('chat.youRecalled') : t('chat.recalledBy', { name: direct ? displayName(conv?.peer) : displayName(members.get(m.sender_id ?? '')) })}
        </p>
      );
    const mine = m.sender_id === me;
    const sender = m.sender_deleted ? null : mine ? c.user : direct ? conv?.peer : members.get(m.sender_id ?? '');
    const canRecall = mine && m.sent_at && now - Date.parse(m.sent_at) < RECALL_MS;
    const st = status(m);
    const live = !m.sender_deleted;
    // Mentions to highlight: each mentioned member's "@nickname", and "@all".
    const marks: string[] = [];
    if (m.kind === 'text' && (m.mentions?.length || m.mention_all)) {
      for (const uid of m.mentions ?? []) {
        const who = uid === me ? c.user : members.get(uid);
        if (who) for (const n of new Set([who.nickname, who.username, displayName(who as PublicUser)])) if (n) marks.push(`@${n}`);
      }
      if (m.mention_all) marks.push(...ALL_MARKS);
    }
    const isSel = !!selecting?.includes(m.seq);
    const q = m.reply_to;
    const qName = q ? (q.sender_id === me ? displayName(c.user) : direct && q.sender_id === conv?.peer?.id ? displayName(conv?.peer) : displayName(members.get(q.sender_id ?? '')) ) : '';
    return (
      <div
        class={`${mine ? 'msg mine' : 'msg'}${flash === m.seq ? ' msg-flash' : ''}${isSel ? ' msg-selected' : ''}${mentionsMe(m, me) ? ' msg-mentions-me' : ''}`}
        data-seq={m.seq}
        data-kind={m.kind ?? 'deleted'}
        {...gestures(m)}
        onClick={(e) => {
          // While selecting, a tap anywhere on the message (but its controls) ticks it.
          if (selecting && live && !(e.target as HTMLElement).closest('button, a, input, audio, video')) toggleSelect(m.seq);
        }}
      >
        {selecting && live && (
          <input type="checkbox" class="msg-check" checked={isSel} aria-label={vt('selectMessage')} onChange={() => toggleSelect(m.seq)} />
        )}
        {!mine && <UserAvatar user={sender as PublicUser | null} size="tiny" />}
        <div class="msg-body">
          {!mine && !direct && <p class="msg-sender small muted">{m.sender_deleted ? t('chat.deletedAccount') : displayName(sender as PublicUser)}</p>}
          {m.forwarded && <p class="msg-forwarded small muted">↪ {vt('forwarded')}</p>}
          <div class={`bubble bubble-${m.kind ?? 'deleted'}${q ? ' has-quote' : ''}`} dir="auto">
            {q && <Quote q={q} name={qName} onOpen={jumpTo} />}
            <Content m={m} marks={marks} mine={mentionsMe(m, me)} />
          </div>
          <p class="msg-meta small muted">
            <time dateTime={m.sent_at}>{shortTime(m.sent_at)}</time>
            {m.expires_at && (
              <span class="expires" title={vt('expiresIn', { t: shortTime(m.expires_at) })} aria-label={vt('expiresIn', { t: shortTime(m.expires_at) })}>
                {' '}⏱
              </span>
            )}
            {st && <span class="receipt"> · {st}</span>}
            <button
              type="button"
              class="link-button msg-more"
              aria-expanded={menu === m.seq}
              aria-label={t('chat.actions')}
              onClick={() => setMenu(menu === m.seq ? null : m.seq)}
            >
              ⋯
            </button>
          </p>
          {menu === m.seq && (
            <div class="msg-menu" role="group" aria-label={t('chat.actions')}>
              {live && !peerGone && (
                <button type="button" class="secondary small-button" onClick={() => startReply(m)}>
                  {vt('reply')}
                </button>
              )}
              {live && (
                <button type="button" class="secondary small-button" onClick={() => (setMenu(null), setForwarding([m.seq]))}>
                  {vt('forward')}
                </button>
              )}
              {live && (
                <button type="button" class="secondary small-button" onClick={() => (setMenu(null), setReplyTo(null), setSelecting([m.seq]))}>
                  {vt('select')}
                </button>
              )}
              {live && (
                <button type="button" class="secondary small-button" onClick={() => saveFavorite(m)}>
                  {vt('favorite')}
                </button>
              )}
              {canRecall && (
                <button type="button" class="secondary small-button" onClick={() => recall(m)}>
                  {t('chat.recall')}
                </button>
              )}
              <button type="button" class="secondary small-button" onClick={() => deleteForMe(m)}>
                {t('chat.deleteForMe')}
              </button>
              {m.kind === 'text' && m.text && navigator.clipboard && (
                <button type="button" class="secondary small-button" onClick={() => (navigator.clipboard.writeText(m.text!), setMenu(null))}>
                  {t('chat.copy')}
                </button>
              )}
              {!mine && !m.sender_deleted && (
                <button type="button" class="secondary small-button" onClick={() => (setReporting(m), setMenu(null))}>
                  {ct('report')}
                </button>
              )}
            </div>
          )}
        </div>
      </div>
    );
  }

  function renderRow(r: Row) {
    return (
      <>
        {r.day && (
          <p class="day-line small muted" role="separator" aria-label={r.day}>
            <span>{r.day}</span>
          </p>
        )}
        {r.unreadMark && (
          <p class="unread-line small" role="separator" aria-label={ct('newMessages')}>
            <span>{ct('newMessages')}</span>
          </p>
        )}
        {r.kind === 'pending' ? renderPending(r.p) : renderMsg(r.m)}
      </>
    );
  }

  const header = (
    <p class="center small muted wl-top">
      {complete ? t('chat.beginning') : loadingOlder ? t('app.loading') : (
        <button type="button" class="link-button" onClick={loadOlder}>
          {t('chat.older')}
        </button>
      )}
    </p>
  );

  // Focus the composer when a chat opens on a wide screen, as WhatsApp Web does.
  useEffect(() => {
    if (wideNow()) textRef.current?.focus({ preventScroll: true });
  }, [id]);

  return (
    <main class="page chat-page" id="main">
      <ChatHeader title={name} info={`/chats/${encodeURIComponent(id)}/info`} actions={peerGone ? null : <CallButtons convId={id} />} />
      {!!conv?.disappear_after_s && (
        <p class="disappear-note small muted" role="note">
          ⏱ {vt('disappearOn', { t: disappearLabel(conv.disappear_after_s) })}
        </p>
      )}
      {conv?.announcement && (
        <p class="announcement small" dir="auto">
          {conv.announcement}
        </p>
      )}
      <div class="wl-wrap">
        <WindowedList
          items={rows}
          render={renderRow}
          onNearTop={loadOlder}
          label={t('chat.history', { name })}
          header={header}
          jump={jump}
          go={go}
          onBottom={(b) => {
            atBottom.current = b;
            if (b) {
              seenSeq.current = store.maxSeq(id);
              setNewCount(0);
              markRead();
            }
          }}
        />
        {newCount > 0 && (
          <button type="button" class="jump-new primary" onClick={() => jump.current?.()}>
            ↓ {ct(newCount === 1 ? 'newOne' : 'newMany', { n: newCount })}
          </button>
        )}
      </div>
      <p class="typing small muted" aria-live="polite">
        {typers.length ? t('chat.typing', { name: typers.join(', ') }) : ''}
      </p>
      <Notices error={action.error} info={action.info} />
      {reporting && <ReportDialog kind="message" target={`${id}:${reporting.seq}`} onClose={() => setReporting(null)} />}
      {forwarding && <ForwardDialog from={id} seqs={forwarding} onClose={() => setForwarding(null)} onDone={forwardDone} />}
      {selecting ? (
        <div class="select-bar" role="toolbar" aria-label={vt('selected', { n: selecting.length })}>
          <span class="small" aria-live="polite">
            {vt('selected', { n: selecting.length })}
          </span>
          <button type="button" class="primary" disabled={!selecting.length} onClick={() => setForwarding([...selecting])}>
            {vt('forward')}
          </button>
          <button type="button" class="secondary" onClick={() => setSelecting(null)}>
            {t('common.cancel')}
          </button>
        </div>
      ) : peerGone ? (
        <p class="notice notice-info composer-off" role="status">
          {t('chat.peerGone')}
        </p>
      ) : (
        <div class="composer">
          <div class="composer-tools" role="group" aria-label={t('chat.attach')}>
            <label class="button secondary icon-button" title={ct('pictureOrVideo')}>
              <Icon name="picture" />
              <span class="sr-only">{ct('pictureOrVideo')}</span>
              <input type="file" accept="image/*,video/*" multiple class="sr-only" onChange={pickMedia} disabled={action.busy} />
            </label>
            <label class="button secondary icon-button" title={t('chat.file')}>
              <Icon name="clip" />
              <span class="sr-only">{t('chat.file')}</span>
              <input type="file" class="sr-only" onChange={pickFile} disabled={action.busy} />
            </label>
            {recording ? (
              <>
                <button type="button" class="danger icon-button" onClick={() => stopVoice(false)}>
                  {t('chat.stopSend')}
                </button>
                <button type="button" class="secondary icon-button" onClick={() => stopVoice(true)}>
                  {t('common.cancel')}
                </button>
              </>
            ) : (
              <button type="button" class="secondary icon-button" onClick={startVoice} title={t('chat.voice')} aria-label={t('chat.voice')} disabled={action.busy}>
                <Icon name="mic" />
              </button>
            )}
            <button type="button" class="secondary icon-button" onClick={sendLocation} title={t('chat.location')} aria-label={t('chat.location')} disabled={action.busy}>
              <Icon name="pin" />
            </button>
          </div>
          {replyTo && (
            <div class="reply-bar" role="group" aria-label={vt('replyingTo', { name: senderName(replyTo) })}>
              <span class="reply-bar-text small">
                <span class="quote-name">{vt('replyingTo', { name: senderName(replyTo) })}</span>
                <span class="quote-text muted" dir="auto">
                  {replyTo.kind === 'text' ? replyTo.text : shortPreview(replyTo.kind, replyTo.kind === 'file' ? replyTo.text : '')}
                </span>
              </span>
              <button type="button" class="link-button" onClick={() => setReplyTo(null)} aria-label={vt('cancelReply')}>
                ✕
              </button>
            </div>
          )}
          {mOpts.length > 0 && (
            <MentionList members={conv?.members ?? []} me={me} canAll={!!canAll} q={mq?.q ?? ''} active={Math.min(mActive, mOpts.length - 1)} onPick={pickMention} />
          )}
          <form class="composer-form" onSubmit={submit}>
            <label for="composer-text" class="sr-only">
              {t('chat.message')}
            </label>
            <textarea
              id="composer-text"
              ref={textRef}
              rows={1}
              value={text}
              dir="auto"
              autocomplete="off"
              placeholder={t('chat.message')}
              aria-describedby="composer-hint"
              aria-invalid={tooLong}
              onKeyDown={onKey}
              onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)}
              onBlur={() => window.setTimeout(() => setMq(null), 150)}
            />
            <button type="submit" class="primary" disabled={!text.trim() || tooLong}>
              {t('chat.send')}
            </button>
          </form>
          <p id="composer-hint" class={tooLong ? 'composer-hint error-text small' : 'composer-hint muted small'} aria-live="polite">
            {tooLong
              ? ct('tooLong', { n: chars.toLocaleString(), max: MAX_TEXT.toLocaleString() })
              : chars > MAX_TEXT - 500
                ? ct('counter', { n: chars.toLocaleString(), max: MAX_TEXT.toLocaleString() })
                : wideNow()
                  ? ct('enterHint')
                  : ''}
          </p>
        </div>
      )}
    </main>
  );
}

const wideNow = () => window.matchMedia('(min-width: 900px)').matches;

function ChatHeader({ title, info, actions }: { title: string; info: string; actions?: ComponentChildren }) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · tkesj`;
  }, [title]);
  useEffect(() => {
    if (!wideNow()) h.current?.focus({ preventScroll: true });
  }, []);
  return (
    <header class="page-header">
      <a class="back chat-back" {...link('/chats')} aria-label={t('common.back')}>
        <span aria-hidden="true">‹</span>
      </a>
      <h1 tabIndex={-1} ref={h} dir="auto" title={title}>
        {title}
      </h1>
      {actions}
      <a class="back" {...link(info)} aria-label={t('chat.info')}>
        <Icon name="more" />
      </a>
    </header>
  );
}

// ------------------------------------------------------ conversation info

export function ChatInfo(c: Ctx) {
  const id = c.params[0];
  useRemarks();
  const [conv, setConv] = useState<Conversation | null>(null);
  const [name, setName] = useState('');
  const [ann, setAnn] = useState('');
  const [friends, setFriends] = useState<PublicUser[]>([]);
  const [adding, setAdding] = useState<string[]>([]);
  const [confirmLeave, setConfirmLeave] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const [reportPeer, setReportPeer] = useState(false);
  const action = useAction();
  const load = () =>
    chat.get(id).then((cv) => {
      setConv(cv);
      setName(cv.name ?? '');
      setAnn(cv.announcement ?? '');
    });
  useEffect(() => {
    action.run(load);
    social.contacts().then((r) => setFriends(r.contacts ?? []), () => {});
  }, [id]);
  useLive(() => load().catch(() => {}), ['conversation'], [id]);

  const admin = conv?.role === 'owner' || conv?.role === 'admin';
  const group = conv?.kind === 'group';
  const memberIds = new Set((conv?.members ?? []).map((m) => m.id));

  async function save(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => setConv(await chat.update(id, { name: name.trim(), announcement: ann.trim() })));
    if (ok) action.setInfo(t('common.saved'));
  }
  async function mute(on: boolean) {
    await action.run(async () => {
      await chat.mute(id, on);
      setConv((cv) => cv && { ...cv, muted: on });
    });
  }
  // Pinned: the single conversation may not say; the list does.
  const pinned = conv?.pinned ?? !!(lastList ?? []).find((x) => x.id === id)?.pinned;
  async function pin(on: boolean) {
    // The switch moves at once (a controlled checkbox would spring back while the call runs).
    setConv((cv) => cv && { ...cv, pinned: on });
    const ok = await action.run(async () => {
      await convApi.pin(id, on);
      lastList = lastList && lastList.map((x) => (x.id === id ? { ...x, pinned: on } : x));
    });
    if (ok) action.setInfo(on ? vt('pinnedDone') : vt('unpinnedDone'));
    else setConv((cv) => cv && { ...cv, pinned: !on });
  }
  // Disappearing messages: either member of a direct chat, a group's owner or admins.
  const canDisappear = !group || admin;
  async function disappear(secs: number) {
    const before = conv?.disappear_after_s ?? 0;
    setConv((cv) => cv && { ...cv, disappear_after_s: secs });
    const ok = await action.run(async () => {
      const cv = await convApi.setDisappear(id, secs);
      setConv((old) => ({ ...(old ?? cv), ...cv, members: cv.members ?? old?.members, disappear_after_s: cv.disappear_after_s ?? secs }));
    });
    if (ok) action.setInfo(secs ? vt('disappearSet', { t: disappearLabel(secs) }) : vt('disappearCleared'));
    else setConv((cv) => cv && { ...cv, disappear_after_s: before });
  }
  async function add() {
    const ok = await action.run(async () => setConv(await chat.addMembers(id, adding)));
    if (ok) {
      setAdding([]);
      action.setInfo(t('group.added'));
    }
  }
  async function setRole(m: Member, role: 'admin' | 'member') {
    const ok = await action.run(async () => {
      await request('PATCH', `/api/v1/conversations/${encodeURIComponent(id)}/members/${encodeURIComponent(m.id)}`, { body: { role } });
      await load();
    });
    if (ok) action.setInfo(role === 'admin' ? ct('group.nowAdmin', { name: displayName(m) }) : ct('group.noLongerAdmin', { name: displayName(m) }));
  }
  async function remove(m: Member) {
    const ok = await action.run(async () => {
      await chat.removeMember(id, m.id);
      await load();
    });
    setRemoving(null);
    if (ok) action.setInfo(ct('group.removed', { name: displayName(m) }));
  }
  async function leave() {
    const ok = await action.run(() => chat.removeMember(id, c.user.id));
    if (!ok) return;
    // The list redraws from the last one seen before it reloads: drop the
    // group now so it never flashes back after leaving.
    lastList = lastList && lastList.filter((cv) => cv.id !== id);
    navigate('/chats');
  }

  return (
    <Page title={conv ? (group ? t('group.info') : t('chat.info')) : t('app.loading')} back={`/chats/${encodeURIComponent(id)}`}>
      <Notices error={action.error} info={action.info} />
      {conv && (
        <>
          <section aria-labelledby="members-heading">
            <h2 id="members-heading">{t('group.members', { n: conv.members?.length ?? conv.member_count ?? 0 })}</h2>
            <ul class="list card">
              {(conv.members ?? []).map((m) => (
                <li key={m.id} class="person">
                  <UserAvatar user={m} />
                  <span class="person-name">
                    {m.id === c.user.id ? t('group.you', { name: displayName(m) }) : displayName(m)}
                    {m.role && m.role !== 'member' && <span class="badge">{t(m.role === 'owner' ? 'group.owner' : 'group.admin')}</span>}
                  </span>
                  {group && m.id !== c.user.id && (conv.role === 'owner' || (conv.role === 'admin' && (m.role ?? 'member') === 'member')) && (
                    <span class="member-actions">
                      {conv.role === 'owner' && (
                        <button type="button" class="secondary small-button" onClick={() => setRole(m, m.role === 'admin' ? 'member' : 'admin')} disabled={action.busy}>
                          {m.role === 'admin' ? ct('group.unadmin', { name: displayName(m) }) : ct('group.makeAdmin', { name: displayName(m) })}
                        </button>
                      )}
                      {removing === m.id ? (
                        <span class="confirm" role="group" aria-label={ct('group.removeConfirm', { name: displayName(m) })}>
                          <span class="small">{ct('group.removeConfirm', { name: displayName(m) })}</span>
                          <button type="button" class="danger small-button" onClick={() => remove(m)} disabled={action.busy}>
                            {ct('group.remove')}
                          </button>
                          <button type="button" class="secondary small-button" onClick={() => setRemoving(null)}>
                            {t('common.cancel')}
                          </button>
                        </span>
                      ) : (
                        <button type="button" class="danger-outline small-button" onClick={() => setRemoving(m.id)} aria-label={ct('group.removeName', { name: displayName(m) })}>
                          {ct('group.remove')}
                        </button>
                      )}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </section>
          {group && admin && (
            <form onSubmit={save} class="card card-pad">
              <Field id="group-name" label={t('group.name')} value={name} onValue={setName} maxLength={64} />
              <div class="field">
                <label for="group-ann">{t('group.announcement')}</label>
                <textarea id="group-ann" rows={3} value={ann} maxLength={2000} onInput={(e) => setAnn((e.currentTarget as HTMLTextAreaElement).value)} />
              </div>
              <button type="submit" class="primary" disabled={action.busy}>
                {t('common.save')}
              </button>
            </form>
          )}
          {group && !admin && conv.announcement && (
            <section class="card card-pad">
              <h2>{t('group.announcement')}</h2>
              <p>{conv.announcement}</p>
            </section>
          )}
          {group && admin && friends.some((f) => !memberIds.has(f.id)) && (
            <fieldset class="card card-pad">
              <legend>{t('group.addMembers')}</legend>
              {friends
                .filter((f) => !memberIds.has(f.id))
                .map((f) => (
                  <label key={f.id} class="check">
                    <input
                      type="checkbox"
                      checked={adding.includes(f.id)}
                      onChange={(e) => setAdding((l) => ((e.currentTarget as HTMLInputElement).checked ? [...l, f.id] : l.filter((x) => x !== f.id)))}
                    />
                    {displayName(f)}
                  </label>
                ))}
              <button type="button" class="secondary" disabled={!adding.length || action.busy} onClick={add}>
                {t('group.add')}
              </button>
            </fieldset>
          )}
          <ul class="list card">
            <li class="perm">
              <label for="mute">{t('chat.mute')}</label>
              <input type="checkbox" role="switch" class="switch" id="mute" checked={!!conv.muted} onChange={(e) => mute((e.currentTarget as HTMLInputElement).checked)} />
            </li>
            <li class="perm">
              <span class="perm-text">
                <label for="pin">{vt('pin')}</label>
                <span class="muted small" id="pin-hint">
                  {vt('pinHint')}
                </span>
              </span>
              <input
                type="checkbox"
                role="switch"
                class="switch"
                id="pin"
                aria-describedby="pin-hint"
                checked={pinned}
                onChange={(e) => pin((e.currentTarget as HTMLInputElement).checked)}
              />
            </li>
            <li class="perm">
              <span class="perm-text">
                <label for="disappear">{vt('disappear')}</label>
                <span class="muted small" id="disappear-hint">
                  {canDisappear ? vt('disappearHint') : vt('disappearNoRight')}
                </span>
              </span>
              <select
                id="disappear"
                aria-describedby="disappear-hint"
                value={String(conv.disappear_after_s ?? 0)}
                disabled={!canDisappear}
                onChange={(e) => disappear(Number((e.currentTarget as HTMLSelectElement).value))}
              >
                {[...new Set([...DISAPPEAR, conv.disappear_after_s ?? 0])].map((v) => (
                  <option key={v} value={String(v)}>
                    {disappearLabel(v)}
                  </option>
                ))}
              </select>
            </li>
          </ul>
          {!group && conv.peer && !conv.peer.deleted && conv.peer.username && (
            <>
              <a class="button secondary full" {...link(`/contacts/${encodeURIComponent(conv.peer.id)}`)}>
                {t('contacts.profile')}
              </a>
              <button type="button" class="danger-outline full" onClick={() => setReportPeer(true)}>
                {ct('report.person', { name: displayName(conv.peer) })}
              </button>
              {reportPeer && <ReportDialog kind="user" target={conv.peer.id} onClose={() => setReportPeer(false)} />}
            </>
          )}
          {group && (
            <div class="danger-zone">
              {confirmLeave ? (
                <div class="confirm" role="group" aria-label={t('group.leaveConfirm')}>
                  <span>{t('group.leaveConfirm')}</span>
                  <button type="button" class="danger" onClick={leave} disabled={action.busy}>
                    {t('group.leave')}
                  </button>
                  <button type="button" class="secondary" onClick={() => setConfirmLeave(false)}>
                    {t('common.cancel')}
                  </button>
                </div>
              ) : (
                <button type="button" class="danger-outline full" onClick={() => setConfirmLeave(true)}>
                  {t('group.leave')}
                </button>
              )}
            </div>
          )}
        </>
      )}
    </Page>
  );
}

/** Starts sending what waits in the outbox (called by the app shell once the chunk is loaded). */
export { startOutbox };
