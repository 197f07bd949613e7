// Chats: the conversation list, one conversation (a windowed message list
// with pictures, files, voice notes, locations, recall, delete-for-me,
// receipts and typing) and a conversation's info (members, group settings).
// Loaded lazily: this chunk is fetched on the first visit to /chats.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  api,
  blobURL,
  chat,
  newClientId,
  social,
  upload,
  type Conversation,
  type Member,
  type Message,
  type NewMessage,
  type PublicUser,
} from './api';
import type { Ctx } from './app';
import { CallButtons, callRecordText } from './call';
import { Field, Notices, Page, errorText, useAction } from './components';
import { t } from './i18n';
import { ackLoaded, notifyRead, onFrame, sendFrame, store } from './realtime';
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
  if (m.recalled) return m.sender_id === me ? t('chat.youRecalled') : t('chat.recalled');
  switch (m.kind) {
    case 'text':
      return m.text ?? '';
    case 'image':
      return t('chat.kind.image');
    case 'video':
      return t('chat.kind.video');
    case 'voice':
      return t('chat.kind.voice');
    case 'file':
      return t('chat.kind.file');
    case 'location':
      return t('chat.kind.location') + (m.location?.name ? ` ${m.location.name}` : '');
    case 'card':
      return t('chat.kind.card');
    case 'call':
      return callRecordText(m);
  }
  return m.text ?? '';
}

/** Refreshes f whenever a frame could change what it shows (debounced). */
function useLive(f: () => void, types: string[], deps: unknown[] = []) {
  useEffect(() => {
    let timer: number | undefined;
    const off = onFrame((fr) => {
      if (!types.includes(fr.type)) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(f, 250);
    });
    return () => {
      off();
      window.clearTimeout(timer);
    };
  }, deps);
}

// ---------------------------------------------------------------- search

/** Searches contacts and message text (the server's full-text index). */
function Search({ me }: { me: string }) {
  const [q, setQ] = useState('');
  const [res, setRes] = useState<{ messages?: Message[]; contacts?: PublicUser[] } | null>(null);
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
  const n = (res?.messages?.length ?? 0) + (res?.contacts?.length ?? 0);
  return (
    <div class="search">
      <form role="search" class="composer-form" onSubmit={go}>
        <label for="chat-search" class="sr-only">
          {t('search.label')}
        </label>
        <input id="chat-search" type="text" value={q} placeholder={t('search.label')} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
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
              {(res.messages ?? []).map((m) => (
                <li key={m.id}>
                  <a class="list-item" {...link(`/chats/${encodeURIComponent(m.conversation_id ?? '')}`)}>
                    <span class="chat-preview">{preview(m, me)}</span>
                    <span class="muted small">{shortTime(m.sent_at)}</span>
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

export function Chats(c: Ctx) {
  useRemarks();
  const [list, setList] = useState<Conversation[] | null>(null);
  const action = useAction();
  const load = () =>
    chat.list().then(
      (r) => {
        setList(r.conversations ?? []);
        action.setError(null);
      },
      (e) => action.setError(e),
    );
  useEffect(() => {
    load();
  }, []);
  useLive(load, ['message', 'sync', 'conversation', 'recall', 'read', 'receipt']);

  return (
    <Page title={t('tab.chats')}>
      <div class="toolbar">
        <a class="button secondary small-button" {...link('/contacts/new-group')}>
          {t('group.new')}
        </a>
        <a class="button secondary small-button" {...link('/contacts/add')}>
          {t('contacts.add')}
        </a>
      </div>
      <Search me={c.user.id} />
      <Notices error={action.error} />
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
          {list.map((cv) => {
            const name = convTitle(cv);
            const unread = cv.unread ?? 0;
            const last = cv.last_message;
            const prev = preview(last, c.user.id);
            return (
              <li key={cv.id}>
                <a class="chat-row" {...link(`/chats/${encodeURIComponent(cv.id)}`)} data-conversation-id={cv.id}>
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
                      <span class="chat-name">{name}</span>
                      <span class="chat-time muted small">{shortTime(last?.sent_at ?? cv.updated_at)}</span>
                    </span>
                    <span class={last?.sender_deleted ? 'chat-preview muted small deleted-text' : 'chat-preview muted small'}>{prev || '\u00a0'}</span>
                    {unread > 0 && <span class="sr-only">{t('chat.unread', { n: unread })}</span>}
                    {cv.muted && <span class="sr-only">{t('chat.muted')}</span>}
                  </span>
                </a>
              </li>
            );
          })}
        </ul>
      )}
    </Page>
  );
}

// ------------------------------------------------------- the windowed list

interface RowItem {
  key: string;
}

/**
 * A list that renders only the rows near the viewport. Row heights are
 * measured as rows render (estimated before); a spacer above and below stands
 * in for the rest. The view sticks to the bottom while the reader is there,
 * and otherwise keeps the first visible row in place when rows are added
 * above (older pages) or re-measured.
 */
function WindowedList<T extends RowItem>(p: {
  items: T[];
  render: (item: T) => ComponentChildren;
  onNearTop: () => void;
  label: string;
  header?: ComponentChildren;
  onBottom?: (atBottom: boolean) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const stick = useRef(true);
  const anchor = useRef<{ key: string; delta: number } | null>(null);
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

  function onScroll() {
    const el = ref.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    stick.current = atBottom;
    p.onBottom?.(atBottom);
    // Remember the first visible row, to keep it in place when rows change.
    const top = el.scrollTop - headerHeight();
    let i = 0;
    while (i < p.items.length - 1 && offsets[i + 1] <= top) i++;
    anchor.current = p.items[i] ? { key: p.items[i].key, delta: top - offsets[i] } : null;
    if (el.scrollTop < 400) p.onNearTop();
    setView({ top: Math.max(0, top), height: el.clientHeight });
  }

  function headerHeight() {
    const h = ref.current?.querySelector<HTMLElement>('.wl-header');
    return h ? h.offsetHeight : 0;
  }

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    let changed = false;
    el.querySelectorAll<HTMLElement>('[data-row]').forEach((row) => {
      const k = row.dataset.row!;
      const h = row.offsetHeight;
      if (heights.current.get(k) !== h) {
        heights.current.set(k, h);
        changed = true;
      }
    });
    if (changed) {
      setTick((n) => n + 1);
      return;
    }
    if (stick.current) {
      el.scrollTop = el.scrollHeight;
    } else if (anchor.current) {
      const i = p.items.findIndex((x) => x.key === anchor.current!.key);
      if (i >= 0) {
        const want = offsets[i] + anchor.current.delta + headerHeight();
        if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want;
      }
    }
    if (view.height !== el.clientHeight) setView((v) => ({ ...v, height: el.clientHeight }));
  });

  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
      setView((v) => ({ ...v, height: el.clientHeight }));
    });
    ro.observe(el);
    return () => ro.disconnect();
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

function MediaView({ m }: { m: Message }) {
  const media = m.media;
  const [open, setOpen] = useState(false);
  const [src, setSrc] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const url = media ? media.url || `/api/v1/media/${media.id}` : '';
  const load = () => blobURL(url).then(setSrc, setErr);
  useEffect(() => {
    if (url && (m.kind === 'voice' || m.kind === 'video')) load();
  }, [url]);
  if (!media) return <span class="muted">{t('media.unavailable')}</span>;
  if (m.kind === 'image')
    return (
      <>
        <button type="button" class="thumb-button" onClick={() => (setOpen(true), load())} aria-label={t('chat.openPicture')}>
          <AuthImg class="thumb" src={`${url}?thumb=1`} alt={t('chat.kind.image')} />
        </button>
        {open && (
          <div class="lightbox" role="dialog" aria-modal="true" aria-label={t('chat.kind.image')} onClick={() => setOpen(false)}>
            {src ? <img src={src} alt={t('chat.kind.image')} /> : <p>{t('app.loading')}</p>}
            <button type="button" class="secondary" autoFocus onClick={() => setOpen(false)}>
              {t('common.close')}
            </button>
          </div>
        )}
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
        {src ? <audio controls src={src} preload="metadata" aria-label={t('chat.kind.voice')} /> : err ? <span class="muted small">{t('media.unavailable')}</span> : null}
      </span>
    );
  }
  if (m.kind === 'video') return src ? <video class="thumb" controls src={src} aria-label={t('chat.kind.video')} /> : <span>{t('chat.kind.video')}</span>;
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
      <Icon name="file" />{' '}
      {name} <span class="muted small">{formatBytes(media.size)}</span>
      {err ? <span class="error-text small"> {errorText(err)}</span> : null}
    </button>
  );
}

function Content({ m }: { m: Message }) {
  if (m.sender_deleted) return <span class="deleted-text">{t('chat.fromDeleted')}</span>;
  switch (m.kind) {
    case 'text':
      return <span class="text">{m.text}</span>;
    case 'location': {
      const l = m.location!;
      return (
        <span>
          <Icon name="pin" size={16} /> {l?.name || t('chat.kind.location')}{' '}
          <a href={`https://www.openstreetmap.org/?mlat=${l?.lat}&mlon=${l?.lng}#map=16/${l?.lat}/${l?.lng}`} target="_blank" rel="noopener noreferrer">
            {l ? `${l.lat.toFixed(5)}, ${l.lng.toFixed(5)}` : ''}
          </a>
        </span>
      );
    }
    case 'card':
      return (
        <span>
          {t('chat.kind.card')}: {m.card?.nickname} ({m.card?.username})
        </span>
      );
    case 'call':
      return <span class="call-record">{callRecordText(m)}</span>;
  }
  return <MediaView m={m} />;
}

interface Pending {
  client_id: string;
  body: NewMessage;
  status: 'sending' | 'failed';
  error?: unknown;
  label: string;
}

type Row = RowItem & ({ kind: 'msg'; m: Message } | { kind: 'pending'; p: Pending });

// ------------------------------------------------------- the conversation

export function ConversationScreen(c: Ctx) {
  const id = c.params[0];
  const me = c.user.id;
  useRemarks();
  const [conv, setConv] = useState<Conversation | null>(null);
  const [msgs, setMsgs] = useState<Message[]>(store.get(id));
  const [pending, setPending] = useState<Pending[]>([]);
  const [text, setText] = useState('');
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [complete, setComplete] = useState(store.complete.has(id));
  const [typing, setTyping] = useState<Record<string, number>>({});
  const [peerRead, setPeerRead] = useState(0);
  const [peerDelivered, setPeerDelivered] = useState(0);
  const [menu, setMenu] = useState<number | null>(null);
  const [recording, setRecording] = useState<{ rec: MediaRecorder; stream: MediaStream; started: number } | null>(null);
  const [now, setNow] = useState(Date.now());
  const action = useAction();
  const atBottom = useRef(true);
  const lastRead = useRef(0);
  const lastTyping = useRef(0);
  const older = useRef(false);

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
  async function fresh() {
    const cv = await loadConv();
    const { messages } = await chat.messages(id, { before_seq: (cv.last_seq ?? 0) + 1, limit: PAGE });
    store.replace(id, messages ?? []);
    const all = (messages ?? []).length < PAGE;
    if (all) store.complete.add(id);
    setComplete(all);
    setMsgs(store.get(id));
    ackLoaded(id);
  }
  useEffect(() => {
    const off = store.subscribe(id, () => setMsgs(store.get(id)));
    action.run(fresh);
    const tick = window.setInterval(() => setNow(Date.now()), 15_000);
    return () => {
      off();
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
        if (f.type === 'conversation') (f.event === 'members_changed' ? fresh() : loadConv()).catch(() => {});
      }),
    [id],
  );

  // Typing indicators fade after 5 s.
  useEffect(() => {
    const live = Object.values(typing).some((at) => at && Date.now() - at < 5000);
    if (!live) return;
    const tm = window.setTimeout(() => setTyping((x) => ({ ...x })), 1000);
    return () => window.clearTimeout(tm);
  }, [typing]);

  // Read: while the newest message is on screen and the tab is visible.
  function markRead() {
    const max = store.maxSeq(id);
    if (!max || max <= lastRead.current || !atBottom.current || document.visibilityState !== 'visible') return;
    lastRead.current = max;
    if (sendFrame({ type: 'read', conversation_id: id, seq: max })) window.setTimeout(() => notifyRead(id), 300);
    else chat.read(id, max).then(() => notifyRead(id), () => {});
  }
  useEffect(markRead, [msgs]);
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

  async function deliver(p: Pending) {
    setPending((l) => [...l.filter((x) => x.client_id !== p.client_id), { ...p, status: 'sending', error: undefined }]);
    try {
      const m = await chat.send(id, p.body);
      store.merge(id, [m]);
      setPending((l) => l.filter((x) => x.client_id !== p.client_id));
    } catch (e) {
      setPending((l) => l.map((x) => (x.client_id === p.client_id ? { ...x, status: 'failed', error: e } : x)));
    }
  }

  function sendBody(body: Omit<NewMessage, 'client_id'>, label: string) {
    atBottom.current = true;
    const client_id = newClientId();
    return deliver({ client_id, body: { ...body, client_id } as NewMessage, status: 'sending', label });
  }

  function submit(e: Event) {
    e.preventDefault();
    const s = text.trim();
    if (!s) return;
    setText('');
    lastTyping.current = 0; // the next keystroke announces typing again
    sendBody({ kind: 'text', text: s }, s);
  }

  function onInput(v: string) {
    setText(v);
    if (v && Date.now() - lastTyping.current > 3000) {
      lastTyping.current = Date.now();
      sendFrame({ type: 'typing', conversation_id: id });
    }
  }

  async function pickPicture(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    if (!files.length) return;
    await action.run(async () => {
      // Picking a picture is the person allowing the album, recorded as such.
      await api.setPermission('album', true);
      for (const f of files) {
        const media = await upload(f, f.name, 'album');
        await sendBody({ kind: media.kind === 'video' ? 'video' : 'image', media_id: media.id }, t('chat.kind.image'));
      }
    });
  }

  async function pickFile(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const f = input.files?.[0];
    input.value = '';
    if (!f) return;
    await action.run(async () => {
      const media = await upload(f, f.name);
      await sendBody({ kind: 'file', media_id: media.id, text: f.name }, f.name);
    });
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
        await action.run(async () => {
          const media = await upload(blob, blob.type.includes('ogg') ? 'voice.ogg' : 'voice.webm');
          await sendBody({ kind: 'voice', media_id: media.id }, t('chat.kind.voice'));
        });
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
      await sendBody({ kind: 'location', location: { lat: pos.coords.latitude, lng: pos.coords.longitude, name: t('chat.myLocation') } }, t('chat.kind.location'));
    });
  }

  async function recall(m: Message) {
    setMenu(null);
    await action.run(async () => {
      await chat.recall(id, m.seq);
      store.patch(id, m.seq, { recalled: true, text: undefined, media: undefined, location: undefined });
    });
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
  const peerGone = direct && conv?.peer && (conv.peer.deleted || !conv.peer.username);
  const typers = Object.entries(typing)
    .filter(([, at]) => at && Date.now() - at < 5000)
    .map(([uid]) => (direct ? displayName(conv?.peer) : displayName(members.get(uid))));

  const rows: Row[] = [
    ...msgs.map((m) => ({ key: `s${m.seq}`, kind: 'msg' as const, m })),
    ...pending.map((p) => ({ key: `p${p.client_id}`, kind: 'pending' as const, p })),
  ];

  function status(m: Message): string {
    if (!direct || m.sender_id !== me || peerGone) return '';
    if (peerRead >= m.seq) return t('chat.read');
    if (peerDelivered >= m.seq) return t('chat.delivered');
    return t('chat.sent');
  }

  function renderRow(r: Row) {
    if (r.kind === 'pending') {
      const p = r.p;
      return (
        <div class="msg mine">
          <div class="bubble pending">
            <span class="text">{p.label}</span>
          </div>
          <p class="msg-meta small">
            {p.status === 'sending' ? (
              t('chat.sending')
            ) : (
              <>
                <span class="error-text">{errorText(p.error)}</span>{' '}
                <button type="button" class="link-button" onClick={() => deliver(p)}>
                  {t('common.retry')}
                </button>
              </>
            )}
          </p>
        </div>
      );
    }
    const m = r.m;
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
    return (
      <div class={mine ? 'msg mine' : 'msg'} data-seq={m.seq} data-kind={m.kind ?? 'deleted'}>
        {!mine && <UserAvatar user={sender as PublicUser | null} size="tiny" />}
        <div class="msg-body">
          {!mine && !direct && <p class="msg-sender small muted">{m.sender_deleted ? t('chat.deletedAccount') : displayName(sender as PublicUser)}</p>}
          <div class={`bubble bubble-${m.kind ?? 'deleted'}`}>
            <Content m={m} />
          </div>
          <p class="msg-meta small muted">
            <time dateTime={m.sent_at}>{shortTime(m.sent_at)}</time>
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
            </div>
          )}
        </div>
      </div>
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

  return (
    <main class="page chat-page" id="main">
      <ChatHeader title={name} info={`/chats/${encodeURIComponent(id)}/info`} actions={peerGone ? null : <CallButtons convId={id} />} />
      {conv?.announcement && <p class="announcement small">{conv.announcement}</p>}
      <WindowedList
        items={rows}
        render={renderRow}
        onNearTop={loadOlder}
        label={t('chat.history', { name })}
        header={header}
        onBottom={(b) => {
          atBottom.current = b;
          if (b) markRead();
        }}
      />
      <p class="typing small muted" aria-live="polite">
        {typers.length ? t('chat.typing', { name: typers.join(', ') }) : ''}
      </p>
      <Notices error={action.error} info={action.info} />
      {peerGone ? (
        <p class="notice notice-info">{t('chat.peerGone')}</p>
      ) : (
        <div class="composer">
          <div class="composer-tools" role="group" aria-label={t('chat.attach')}>
            <label class="button secondary icon-button" title={t('chat.picture')}>
              <Icon name="picture" />
              <span class="sr-only">{t('chat.picture')}</span>
              <input type="file" accept="image/*" multiple class="sr-only" onChange={pickPicture} disabled={action.busy} />
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
          <form class="composer-form" onSubmit={submit}>
            <label for="composer-text" class="sr-only">
              {t('chat.message')}
            </label>
            <input
              id="composer-text"
              type="text"
              value={text}
              maxLength={5000}
              autocomplete="off"
              placeholder={t('chat.message')}
              onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)}
            />
            <button type="submit" class="primary" disabled={!text.trim()}>
              {t('chat.send')}
            </button>
          </form>
        </div>
      )}
    </main>
  );
}

function ChatHeader({ title, info, actions }: { title: string; info: string; actions?: ComponentChildren }) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · tkesj`;
  }, [title]);
  useEffect(() => {
    h.current?.focus({ preventScroll: true });
  }, []);
  return (
    <header class="page-header">
      <a class="back" {...link('/chats')} aria-label={t('common.back')}>
        <span aria-hidden="true">‹</span>
      </a>
      <h1 tabIndex={-1} ref={h}>
        {title}
      </h1>
      {actions}
      <a class="back" {...link(info)} aria-label={t('chat.info')}>
        <span aria-hidden="true">⋯</span>
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
  async function add() {
    const ok = await action.run(async () => setConv(await chat.addMembers(id, adding)));
    if (ok) {
      setAdding([]);
      action.setInfo(t('group.added'));
    }
  }
  async function leave() {
    const ok = await action.run(() => chat.removeMember(id, c.user.id));
    if (ok) navigate('/chats');
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
          </ul>
          {!group && conv.peer && !conv.peer.deleted && conv.peer.username && (
            <a class="button secondary full" {...link(`/contacts/${encodeURIComponent(conv.peer.id)}`)}>
              {t('contacts.profile')}
            </a>
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
