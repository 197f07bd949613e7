// Moments: the timeline (infinite scroll by next_cursor), composing a post
// with up to nine pictures and a visibility, likes, comments and replies,
// and one person's album. Loaded lazily on the first visit to /moments.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, moments, social, upload, type Comment, type Moment, type PublicUser, type Visibility } from './api';
import type { Ctx } from './app';
import { Notices, Page, useAction } from './components';
import { formatTime, t, type Key } from './i18n';
import { onFrame } from './realtime';
import { favorites } from './api-conv';
import { ct } from './chat-text';
import { vt } from './conv-text';
import { ReportDialog } from './report';
import { link, navigate } from './router';
import { AuthImg, Icon, UserAvatar, displayName, shortTime, useRemarks } from './ui';

const MAX_PICTURES = 9;

function MomentCard({ m, me, onChange, onDelete }: { m: Moment; me: string; onChange: (m: Moment) => void; onDelete: (id: string) => void }) {
  const [reporting, setReporting] = useState(false);
  const [text, setText] = useState('');
  const [replyTo, setReplyTo] = useState<Comment | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const action = useAction();
  const liked = m.likes.some((l) => l.user.id === me);
  const byId = new Map(m.comments.map((c) => [c.id, c]));
  const inputId = `comment-${m.id}`;

  async function refresh() {
    onChange(await moments.get(m.id));
  }
  async function like() {
    await action.run(async () => {
      await moments.like(m.id, !liked);
      await refresh();
    });
  }
  async function comment(e: Event) {
    e.preventDefault();
    const s = text.trim();
    if (!s) return;
    const ok = await action.run(async () => {
      await moments.comment(m.id, s, replyTo?.id);
      await refresh();
    });
    if (ok) {
      setText('');
      setReplyTo(null);
    }
  }
  async function save() {
    const ok = await action.run(() => favorites.saveMoment(m.id));
    if (ok) action.setInfo(vt('favoriteSaved'));
  }
  async function remove() {
    const ok = await action.run(() => moments.remove(m.id));
    if (ok) onDelete(m.id);
  }

  const author = displayName(m.author);
  return (
    <article class="moment card" aria-labelledby={`m-${m.id}-author`} data-moment-id={m.id}>
      <UserAvatar user={m.author} />
      <div class="moment-body">
        <h2 class="moment-author" id={`m-${m.id}-author`}>
          <a {...link(`/moments/user/${encodeURIComponent(m.author.id)}`)}>{author}</a>
        </h2>
        {m.text && <p class="moment-text">{m.text}</p>}
        {m.media.length > 0 && (
          <ul class={`moment-pics pics-${Math.min(m.media.length, 3)}`} aria-label={t('moments.pictures', { n: m.media.length })}>
            {m.media.map((x, i) => (
              <li key={x.id}>
                <button type="button" class="thumb-button" onClick={() => setOpen(x.url || `/api/v1/media/${x.id}`)} aria-label={t('moments.openPicture', { n: i + 1 })}>
                  <AuthImg class="moment-pic" src={`${x.url || `/api/v1/media/${x.id}`}?thumb=1`} alt={t('moments.picture', { n: i + 1, name: author })} />
                </button>
              </li>
            ))}
          </ul>
        )}
        {m.location && (
          <p class="small moment-loc">
            <Icon name="pin" size={14} />{' '}
            {m.location.name || `${m.location.lat.toFixed(4)}, ${m.location.lng.toFixed(4)}`}
          </p>
        )}
        <p class="moment-meta small muted">
          <time dateTime={m.created_at} title={formatTime(m.created_at)}>
            {shortTime(m.created_at)}
          </time>
          {m.visibility && m.visibility.kind !== 'friends' && <span> · {t(`vis.${m.visibility.kind}` as Key)}</span>}
          {m.author.id === me && (
            <button type="button" class="link-button" onClick={remove}>
              {t('moments.delete')}
            </button>
          )}
          {m.author.id !== me && (
            <button type="button" class="link-button" onClick={() => setReporting(true)} aria-label={`${ct('report')}: ${author}`}>
              {ct('report')}
            </button>
          )}
          {reporting && <ReportDialog kind="moment" target={m.id} onClose={() => setReporting(false)} />}
          <button type="button" class="link-button" onClick={save} disabled={action.busy} aria-label={`${vt('favorite')}: ${author}`}>
            {vt('favorite')}
          </button>
          <button type="button" class="link-button like-button" aria-pressed={liked} onClick={like} disabled={action.busy}>
            {liked ? t('moments.unlike') : t('moments.like')}
          </button>
        </p>
        {(m.likes.length > 0 || m.comments.length > 0) && (
          <div class="moment-social">
            {m.likes.length > 0 && (
              <p class="likes small">
                <span aria-hidden="true">♥ </span>
                <span class="sr-only">{t('moments.likedBy')} </span>
                {m.likes.map((l) => displayName(l.user)).join(', ')}
              </p>
            )}
            {m.comments.length > 0 && (
              <ul class="comments small" aria-label={t('moments.comments')}>
                {m.comments.map((c) => {
                  const parent = c.reply_to ? byId.get(c.reply_to) : undefined;
                  return (
                    <li key={c.id}>
                      <button type="button" class="comment-button" onClick={() => (setReplyTo(c), document.getElementById(inputId)?.focus())}>
                        <span class="sr-only">{t('moments.replyTo', { name: displayName(c.user) })}: </span>
                        <strong>{displayName(c.user)}</strong>
                        {parent && (
                          <>
                            {' '}
                            {t('moments.replied')} <strong>{displayName(parent.user)}</strong>
                          </>
                        )}
                        : {c.text}
                      </button>
                    </li>
                  );
                })}
              </ul>
            )}
          </div>
        )}
        <form class="comment-form" onSubmit={comment}>
          <label for={inputId} class="sr-only">
            {replyTo ? t('moments.replyTo', { name: displayName(replyTo.user) }) : t('moments.comment')}
          </label>
          <input
            id={inputId}
            type="text"
            value={text}
            maxLength={1000}
            placeholder={replyTo ? t('moments.replyTo', { name: displayName(replyTo.user) }) : t('moments.comment')}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
          {replyTo && (
            <button type="button" class="secondary small-button" onClick={() => setReplyTo(null)}>
              {t('common.cancel')}
            </button>
          )}
          <button type="submit" class="secondary small-button" disabled={!text.trim() || action.busy}>
            {t('moments.send')}
          </button>
        </form>
        <Notices error={action.error} info={action.info} />
      </div>
      {open && (
        <div class="lightbox" role="dialog" aria-modal="true" aria-label={t('chat.kind.image')} onClick={() => setOpen(null)}>
          <AuthImg src={open} alt={t('chat.kind.image')} />
          <button type="button" class="secondary" autoFocus onClick={() => setOpen(null)}>
            {t('common.close')}
          </button>
        </div>
      )}
    </article>
  );
}

/** A feed of moments that pages on by next_cursor as its end scrolls into view. */
function Feed({ me, load, empty }: { me: string; load: (cursor?: string) => Promise<{ moments: Moment[]; next_cursor?: string }>; empty: string }) {
  useRemarks();
  const [items, setItems] = useState<Moment[] | null>(null);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [done, setDone] = useState(false);
  const busy = useRef(false);
  const action = useAction();
  const sentinel = useRef<HTMLDivElement>(null);

  async function more(reset = false) {
    if (busy.current || (!reset && done)) return;
    busy.current = true;
    await action.run(async () => {
      const page = await load(reset ? undefined : cursor);
      setItems((cur) => {
        const seen = new Set((reset ? [] : cur ?? []).map((x) => x.id));
        return [...(reset ? [] : cur ?? []), ...(page.moments ?? []).filter((x) => !seen.has(x.id))];
      });
      setCursor(page.next_cursor);
      setDone(!page.next_cursor);
    });
    busy.current = false;
  }
  useEffect(() => {
    more(true);
    return onFrame((f) => {
      if ((f.type === 'moment_like' || f.type === 'moment_comment') && f.moment_id)
        moments.get(f.moment_id).then((m) => setItems((l) => l && l.map((x) => (x.id === m.id ? m : x))), () => {});
    });
  }, []);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || done || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && more(), { rootMargin: '600px' });
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, done, items === null]);

  return (
    <>
      <Notices error={action.error} />
      {items === null ? (
        !action.error && <p class="muted">{t('app.loading')}</p>
      ) : items.length === 0 ? (
        <p class="empty muted">{empty}</p>
      ) : (
        <div class="feed">
          {items.map((m) => (
            <MomentCard
              key={m.id}
              m={m}
              me={me}
              onChange={(n) => setItems((l) => l && l.map((x) => (x.id === n.id ? n : x)))}
              onDelete={(id) => setItems((l) => l && l.filter((x) => x.id !== id))}
            />
          ))}
        </div>
      )}
      <div ref={sentinel} class="sentinel">
        {items !== null && items.length > 0 && (done ? <p class="center muted small">{t('moments.end')}</p> : (
          <button type="button" class="secondary full" onClick={() => more()} disabled={action.busy}>
            {t('moments.more')}
          </button>
        ))}
      </div>
    </>
  );
}

export function Timeline(c: Ctx) {
  return (
    <Page title={t('tab.moments')}>
      <div class="toolbar">
        <a class="button primary small-button" {...link('/moments/new')}>
          {t('moments.post')}
        </a>
        <a class="button secondary small-button" {...link(`/moments/user/${encodeURIComponent(c.user.id)}`)}>
          {t('moments.myAlbum')}
        </a>
        <a class="button secondary small-button" {...link('/me/privacy#moments-range')}>
          {t('moments.settings')}
        </a>
      </div>
      <Feed me={c.user.id} load={(cur) => moments.timeline(cur)} empty={t('moments.none')} />
    </Page>
  );
}

export function Album(c: Ctx) {
  const id = c.params[0];
  const [who, setWho] = useState<string>(id === c.user.id ? c.user.nickname : '');
  useEffect(() => {
    if (id !== c.user.id)
      social.contacts().then((r) => {
        const u = (r.contacts ?? []).find((x) => x.id === id);
        setWho(u ? displayName(u) : '');
      }, () => {});
  }, [id]);
  return (
    <Page title={who ? t('moments.albumOf', { name: who }) : t('moments.album')} back="/moments">
      <Feed me={c.user.id} load={(cur) => moments.ofUser(id, cur)} empty={t('moments.noneHere')} />
    </Page>
  );
}

interface Picked {
  file: File;
  url: string;
}

export function Compose() {
  const [text, setText] = useState('');
  const [pics, setPics] = useState<Picked[]>([]);
  const [vis, setVis] = useState<Visibility['kind']>('friends');
  const [users, setUsers] = useState<string[]>([]);
  const [friends, setFriends] = useState<PublicUser[]>([]);
  const [progress, setProgress] = useState('');
  const action = useAction();
  useEffect(() => {
    social.contacts().then((r) => setFriends(r.contacts ?? []), () => {});
    social.settings().then((s) => s.default_post_visibility === 'private' && setVis('private'), () => {});
    return () => pics.forEach((p) => URL.revokeObjectURL(p.url));
  }, []);

  function pick(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    const room = MAX_PICTURES - pics.length;
    if (files.length > room) action.setError(t('moments.tooMany', { n: MAX_PICTURES }));
    setPics((l) => [...l, ...files.slice(0, room).map((file) => ({ file, url: URL.createObjectURL(file) }))]);
  }

  async function post(e: Event) {
    e.preventDefault();
    if (!text.trim() && !pics.length) {
      action.setError(t('moments.emptyPost'));
      return;
    }
    if ((vis === 'only' || vis === 'except') && !users.length) {
      action.setError(t('vis.pickSomeone'));
      return;
    }
    const ok = await action.run(async () => {
      const ids: string[] = [];
      if (pics.length) await api.setPermission('album', true);
      for (let i = 0; i < pics.length; i++) {
        setProgress(t('moments.uploading', { i: i + 1, n: pics.length }));
        ids.push((await upload(pics[i].file, pics[i].file.name, 'album')).id);
      }
      setProgress('');
      await moments.create(text.trim(), ids, { kind: vis, users: vis === 'only' || vis === 'except' ? users : [] });
    });
    setProgress('');
    if (ok) navigate('/moments');
  }

  const kinds: Visibility['kind'][] = ['friends', 'only', 'except', 'private'];
  return (
    <Page title={t('moments.new')} back="/moments" narrow>
      <form onSubmit={post}>
        <div class="field">
          <label for="moment-text">{t('moments.text')}</label>
          <textarea id="moment-text" rows={4} maxLength={5000} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
        </div>
        <div class="field">
          <span class="field-label" id="pics-label">
            {t('moments.picturesLabel', { n: pics.length, max: MAX_PICTURES })}
          </span>
          <ul class="moment-pics pics-3 compose-pics" aria-labelledby="pics-label">
            {pics.map((p, i) => (
              <li key={p.url}>
                <img class="moment-pic" src={p.url} alt={t('moments.pictureN', { n: i + 1 })} />
                <button type="button" class="remove-pic" aria-label={t('moments.removePicture', { n: i + 1 })} onClick={() => (URL.revokeObjectURL(p.url), setPics((l) => l.filter((x) => x !== p)))}>
                  ×
                </button>
              </li>
            ))}
            {pics.length < MAX_PICTURES && (
              <li>
                <label class="add-pic">
                  <span aria-hidden="true">+</span>
                  <span class="sr-only">{t('moments.addPictures')}</span>
                  <input type="file" accept="image/*" multiple class="sr-only" onChange={pick} />
                </label>
              </li>
            )}
          </ul>
        </div>
        <fieldset>
          <legend>{t('vis.title')}</legend>
          {kinds.map((k) => (
            <label key={k} class="check">
              <input type="radio" name="visibility" value={k} checked={vis === k} onChange={() => setVis(k)} />
              <span>
                {t(`vis.${k}` as Key)}
                <span class="hint"> — {t(`vis.${k}.desc` as Key)}</span>
              </span>
            </label>
          ))}
        </fieldset>
        {(vis === 'only' || vis === 'except') && (
          <fieldset>
            <legend>{t(vis === 'only' ? 'vis.pickOnly' : 'vis.pickExcept')}</legend>
            {friends.length === 0 ? (
              <p class="muted">{t('contacts.none')}</p>
            ) : (
              friends.map((f) => (
                <label key={f.id} class="check">
                  <input
                    type="checkbox"
                    checked={users.includes(f.id)}
                    onChange={(e) => setUsers((l) => ((e.currentTarget as HTMLInputElement).checked ? [...l, f.id] : l.filter((x) => x !== f.id)))}
                  />
                  {displayName(f)}
                </label>
              ))
            )}
          </fieldset>
        )}
        <Notices error={action.error} info={progress} />
        <button type="submit" class="primary" disabled={action.busy}>
          {t('moments.publish')}
        </button>
      </form>
    </Page>
  );
}
