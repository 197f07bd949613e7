// Favorites (R-MSG-9): messages, media and Moments a person saved, private to
// them (GET/DELETE /api/v1/me/favorites). A list with a search box over what
// each item says and who it came from; an item from a chat opens the chat at
// that message; remove asks first. Loaded lazily on the first visit.

import { useEffect, useState } from 'preact/hooks';
import { type Favorite } from './api';
import { favorites } from './api-conv';
import { chat } from './api';
import type { Ctx } from './app';
import { Notices, Page, useAction } from './components';
import { HistoryCard } from './conv';
import { kindLabel, shortPreview } from './msg-kind';
import { vt } from './conv-text';
import { formatTime, t } from './i18n';
import { navigate } from './router';
import { AuthImg, displayName, shortTime, useRemarks } from './ui';

/** The kind of what a favorite holds: a message's kind, or "moment". */
const contentKind = (f: Favorite) => f.content_kind || (f.kind === 'moment' ? 'moment' : 'text');

function favText(f: Favorite): string {
  const k = contentKind(f);
  if (k === 'history' && f.history?.items?.length) return vt('historyCount', { n: f.history.items.length });
  if (k === 'location') return f.location?.name || '';
  if (k === 'image' || k === 'video' || k === 'voice') return '';
  return f.text ?? '';
}

function favWords(f: Favorite, chat: string): string {
  const items = (f.history?.items ?? []).map((i) => `${i.sender_name ?? ''} ${i.text ?? ''}`).join(' ');
  return [f.text, f.author_name, chat, kindLabel(contentKind(f)), f.location?.name, items].filter(Boolean).join(' ').toLowerCase();
}

export function Favorites(_c: Ctx) {
  const [list, setList] = useState<Favorite[] | null>(null);
  const [q, setQ] = useState('');
  const [confirm, setConfirm] = useState<string | null>(null);
  const [chats, setChats] = useState<Map<string, string>>(new Map());
  const action = useAction();
  useRemarks();
  useEffect(() => {
    action.run(async () => setList((await favorites.list()).favorites ?? []));
    // The chats' names, to say where a saved message came from.
    chat.list().then(
      (r) => setChats(new Map((r.conversations ?? []).map((cv) => [cv.id, cv.kind === 'group' ? cv.name || t('chat.group') : displayName(cv.peer)]))),
      () => {},
    );
  }, []);

  async function remove(f: Favorite) {
    const ok = await action.run(() => favorites.remove(f.id));
    setConfirm(null);
    if (ok) {
      setList((l) => (l ?? []).filter((x) => x.id !== f.id));
      action.setInfo(vt('favoriteRemoved'));
    }
  }

  const s = q.trim().toLowerCase();
  const shown = (list ?? []).filter((f) => !s || favWords(f, chats.get(f.conversation_id ?? '') ?? '').includes(s));
  return (
    <Page title={vt('favorites')} back="/me">
      <p class="hint">{vt('favoritesPrivate')}</p>
      <div class="field" role="search">
        <label for="fav-search">{vt('favoritesSearch')}</label>
        <input id="fav-search" type="search" value={q} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <Notices error={action.error} info={action.info} />
      {list === null ? (
        !action.error && <p class="muted">{t('app.loading')}</p>
      ) : list.length === 0 ? (
        <p class="empty muted">{vt('favoritesNone')}</p>
      ) : shown.length === 0 ? (
        <p class="muted" role="status">
          {vt('favoritesNoMatch')}
        </p>
      ) : (
        <ul class="list card favorites" aria-label={vt('favorites')}>
          {shown.map((f) => {
            const text = favText(f);
            const kind = contentKind(f);
            const label = kind === 'text' ? text : shortPreview(kind, text);
            const at = f.created_at;
            const chatName = chats.get(f.conversation_id ?? '');
            const pics = (f.media ?? []).filter((x) => x.kind === 'image').slice(0, 3);
            return (
              <li key={f.id} class="favorite" data-favorite-id={f.id}>
                <div class="favorite-main">
                  <p class="favorite-from small muted">
                    {f.author_name && <span dir="auto">{vt('favoriteFrom', { name: f.author_name })}</span>}
                    {chatName && chatName !== f.author_name && <span dir="auto"> {vt('favoriteIn', { chat: chatName })}</span>}
                    {f.kind === 'moment' && <span> · {kindLabel('moment')}</span>}
                  </p>
                  {pics.map((x) => (
                    <AuthImg key={x.id} class="thumb favorite-thumb" src={`${x.url || `/api/v1/media/${x.id}`}?thumb=1`} alt={kindLabel('image')} />
                  ))}
                  {kind === 'history' && f.history?.items?.length ? (
                    <HistoryCard items={f.history?.items ?? []} />
                  ) : (
                    label && (
                      <p class="favorite-text" dir="auto">
                        {label}
                      </p>
                    )
                  )}
                  <p class="small muted">
                    {at && (
                      <time dateTime={at} title={formatTime(at)}>
                        {vt('favoriteSavedAt', { t: shortTime(at) })}
                      </time>
                    )}
                  </p>
                </div>
                <div class="favorite-actions">
                  {f.conversation_id && typeof f.seq === 'number' && (
                    <button
                      type="button"
                      class="secondary small-button"
                      onClick={() => import('./chat').then((m) => m.openAt(f.conversation_id!, f.seq!), () => navigate(`/chats/${encodeURIComponent(f.conversation_id!)}?at=${f.seq}`))}
                    >
                      {vt('favoriteOpen')}
                    </button>
                  )}
                  {confirm === f.id ? (
                    <span class="confirm" role="group" aria-label={vt('favoriteRemoveConfirm')}>
                      <span class="small">{vt('favoriteRemoveConfirm')}</span>
                      <button type="button" class="danger small-button" disabled={action.busy} onClick={() => remove(f)}>
                        {vt('favoriteRemove')}
                      </button>
                      <button type="button" class="secondary small-button" onClick={() => setConfirm(null)}>
                        {t('common.cancel')}
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="danger-outline small-button" onClick={() => setConfirm(f.id)} aria-label={vt('favoriteRemoveName', { text: (label || kindLabel(kind)).slice(0, 40) })}>
                      {vt('favoriteRemove')}
                    </button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </Page>
  );
}
