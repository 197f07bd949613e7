// Contacts: friends with remarks, friend requests (incoming and outgoing),
// adding by exact username or phone, blocking, one friend's page, and new
// groups. Loaded lazily on the first visit to /contacts.

import { useEffect, useState } from 'preact/hooks';
import { chat, social, type FriendRequest, type PublicUser } from './api';
import type { Ctx } from './app';
import { Field, Notices, Page, useAction } from './components';
import { lang, t } from './i18n';
import { onFrame } from './realtime';
import { ct } from './chat-text';
import { ReportDialog } from './report';
import { link, navigate } from './router';
import { UserAvatar, displayName, loadRemarks, openDirect, shortTime } from './ui';

function PersonRow({ u, href, children }: { u: PublicUser; href?: string; children?: preact.ComponentChildren }) {
  const main = (
    <>
      <UserAvatar user={u} />
      <span class="person-name">
        {displayName(u)}
        {u.remark && u.nickname && u.remark !== u.nickname && <span class="muted small"> ({u.nickname})</span>}
        <span class="muted small person-username">@{u.username}</span>
      </span>
    </>
  );
  return (
    <li class="person" data-user-id={u.id}>
      {href ? (
        <a class="person-link" {...link(href)}>
          {main}
        </a>
      ) : (
        main
      )}
      {children}
    </li>
  );
}

/**
 * People in the order a person looks for them: by name in the app's
 * language (Chinese names by pinyin in Chinese, whatever the browser's own
 * locale), numbers by value ("Friend 2" before "Friend 10"). It was
 * localeCompare in the browser's locale, by code point for numbers.
 */
function byName<T extends PublicUser>(people: T[]): T[] {
  const c = new Intl.Collator(lang() === 'zh' ? 'zh-CN' : 'en', { numeric: true, sensitivity: 'base' });
  return [...people].sort((a, b) => c.compare(displayName(a), displayName(b)));
}

export function Contacts(c: Ctx) {
  const [contacts, setContacts] = useState<PublicUser[] | null>(null);
  const [requests, setRequests] = useState<FriendRequest[]>([]);
  const [groups, setGroups] = useState<{ id: string; name: string }[]>([]);
  const action = useAction();

  async function load() {
    const [cs, rs, cv] = await Promise.all([social.contacts(), social.requests(), chat.list()]);
    setContacts(byName(cs.contacts ?? []));
    setRequests(rs.requests ?? []);
    setGroups((cv.conversations ?? []).filter((x) => x.kind === 'group').map((x) => ({ id: x.id, name: x.name || t('chat.group') })));
  }
  useEffect(() => {
    action.run(load);
    return onFrame((f) => {
      if (f.type === 'friend_request' || f.type === 'conversation') load().catch(() => {});
    });
  }, []);

  async function answer(r: FriendRequest, accept: boolean) {
    const ok = await action.run(async () => {
      await social.answer(r.id, accept);
      await load();
    });
    if (ok) action.setInfo(t(accept ? 'req.accepted' : 'req.declined', { name: displayName(r.from_user) }));
  }

  const incoming = requests.filter((r) => r.to === c.user.id && r.status === 'pending');
  const outgoing = requests.filter((r) => r.from === c.user.id && r.status === 'pending');

  return (
    <Page title={t('tab.contacts')}>
      <div class="toolbar">
        <a class="button primary small-button" {...link('/contacts/add')}>
          {t('contacts.add')}
        </a>
        <a class="button secondary small-button" {...link('/contacts/new-group')}>
          {t('group.new')}
        </a>
        <a class="button secondary small-button" {...link('/contacts/blocked')}>
          {t('contacts.blocked')}
        </a>
      </div>
      <Notices error={action.error} info={action.info} />
      {incoming.length > 0 && (
        <section aria-labelledby="incoming-heading">
          <h2 id="incoming-heading">{t('req.incoming')}</h2>
          <ul class="list card">
            {incoming.map((r) => (
              <PersonRow key={r.id} u={r.from_user ?? ({ id: r.from } as PublicUser)}>
                <div class="person-extra">
                  {r.greeting && <p class="small greeting">“{r.greeting}”</p>}
                  <div class="row-actions">
                    <button type="button" class="primary small-button" disabled={action.busy} onClick={() => answer(r, true)} aria-label={t('req.acceptName', { name: displayName(r.from_user) })}>
                      {t('req.accept')}
                    </button>
                    <button type="button" class="secondary small-button" disabled={action.busy} onClick={() => answer(r, false)} aria-label={t('req.declineName', { name: displayName(r.from_user) })}>
                      {t('req.decline')}
                    </button>
                  </div>
                </div>
              </PersonRow>
            ))}
          </ul>
        </section>
      )}
      {outgoing.length > 0 && (
        <section aria-labelledby="outgoing-heading">
          <h2 id="outgoing-heading">{t('req.outgoing')}</h2>
          <ul class="list card">
            {outgoing.map((r) => (
              <PersonRow key={r.id} u={r.to_user ?? ({ id: r.to } as PublicUser)}>
                <span class="muted small">
                  {t('req.waiting')} {r.created_at && <time dateTime={r.created_at}>{shortTime(r.created_at)}</time>}
                </span>
              </PersonRow>
            ))}
          </ul>
        </section>
      )}
      {groups.length > 0 && (
        <section aria-labelledby="groups-heading">
          <h2 id="groups-heading">{t('contacts.groups')}</h2>
          <ul class="list card">
            {groups.map((g) => (
              <li key={g.id}>
                <a class="list-item" {...link(`/chats/${encodeURIComponent(g.id)}`)}>
                  <span>{g.name}</span>
                  <span class="chevron" aria-hidden="true">
                    ›
                  </span>
                </a>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="friends-heading">
        <h2 id="friends-heading">{t('contacts.friends', { n: contacts?.length ?? 0 })}</h2>
        {contacts === null ? (
          !action.error && <p class="muted">{t('app.loading')}</p>
        ) : contacts.length === 0 ? (
          <p class="muted">{t('contacts.none')}</p>
        ) : (
          <ul class="list card" aria-labelledby="friends-heading">
            {contacts.map((u) => (
              <PersonRow key={u.id} u={u} href={`/contacts/${encodeURIComponent(u.id)}`} />
            ))}
          </ul>
        )}
      </section>
    </Page>
  );
}

export function AddFriend(c: Ctx) {
  const [q, setQ] = useState('');
  const [results, setResults] = useState<PublicUser[] | null>(null);
  const [greeting, setGreeting] = useState('');
  const [sent, setSent] = useState<Record<string, boolean>>({});
  const [friends, setFriends] = useState<Set<string>>(new Set());
  const action = useAction();
  useEffect(() => {
    social.contacts().then((r) => setFriends(new Set((r.contacts ?? []).map((x) => x.id))), () => {});
  }, []);

  async function search(e: Event) {
    e.preventDefault();
    const s = q.trim();
    if (!s) return;
    await action.run(async () => {
      const r = await social.searchUsers(s);
      setResults((r.users ?? []).filter((u) => u.id !== c.user.id));
    });
  }
  async function request(u: PublicUser) {
    const ok = await action.run(async () => {
      const r = await social.sendRequest(u.id, greeting.trim() || t('req.defaultGreeting', { name: c.user.nickname }));
      setSent((x) => ({ ...x, [u.id]: true }));
      if (r.status === 'accepted') setFriends((f) => new Set([...f, u.id]));
    });
    if (ok) action.setInfo(t('req.sent', { name: displayName(u) }));
  }

  return (
    <Page title={t('contacts.add')} back="/contacts" narrow>
      <form onSubmit={search} role="search">
        <Field id="friend-query" label={t('contacts.searchLabel')} hint={t('contacts.searchHint')} value={q} onValue={setQ} required autocomplete="off" />
        <button type="submit" class="primary" disabled={action.busy}>
          {t('contacts.search')}
        </button>
      </form>
      <Notices error={action.error} info={action.info} />
      {results !== null &&
        (results.length === 0 ? (
          <p class="muted" role="status">
            {t('contacts.noMatch')}
          </p>
        ) : (
          <>
            <Field id="greeting" label={t('req.greeting')} value={greeting} onValue={setGreeting} maxLength={200} />
            <ul class="list card" aria-label={t('contacts.results')}>
              {results.map((u) => (
                <PersonRow key={u.id} u={u}>
                  {friends.has(u.id) ? (
                    <button type="button" class="secondary small-button" onClick={() => openDirect(u.id).catch(action.setError)}>
                      {t('contacts.message')}
                    </button>
                  ) : (
                    <button type="button" class="primary small-button" disabled={action.busy || sent[u.id]} onClick={() => request(u)}>
                      {sent[u.id] ? t('req.sentShort') : t('req.send')}
                    </button>
                  )}
                </PersonRow>
              ))}
            </ul>
          </>
        ))}
      <p class="alt-action">
        <a {...link('/me/qr')}>{t('qr.mine')}</a>
      </p>
    </Page>
  );
}

export function ContactDetail(c: Ctx) {
  const [reporting, setReporting] = useState(false);
  const id = c.params[0];
  const [u, setU] = useState<PublicUser | null>(null);
  const [blocked, setBlocked] = useState(false);
  const [remark, setRemark] = useState('');
  const [confirm, setConfirm] = useState<'' | 'delete' | 'block'>('');
  const action = useAction();
  async function load() {
    const [cs, bs] = await Promise.all([social.contacts(), social.blocks()]);
    const found = (cs.contacts ?? []).find((x) => x.id === id) ?? (bs.blocked ?? []).find((x) => x.id === id) ?? null;
    setU(found);
    setRemark(found?.remark ?? '');
    setBlocked((bs.blocked ?? []).some((x) => x.id === id));
    if (!found) throw t('contacts.notFriend');
  }
  useEffect(() => {
    action.run(load);
  }, [id]);

  async function saveRemark(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => {
      await social.setRemark(id, remark.trim());
      await load();
      await loadRemarks(true);
    });
    if (ok) action.setInfo(t('common.saved'));
  }
  async function block(on: boolean) {
    setConfirm('');
    const ok = await action.run(async () => {
      await social.block(id, on);
      setBlocked(on);
    });
    if (ok) action.setInfo(t(on ? 'contacts.blockedName' : 'contacts.unblockedName', { name: displayName(u) }));
  }
  async function remove() {
    const ok = await action.run(() => social.removeContact(id));
    if (ok) navigate('/contacts');
  }

  return (
    <Page title={u ? displayName(u) : t('contacts.profile')} back="/contacts" narrow>
      <Notices error={action.error} info={action.info} />
      {u && (
        <>
          <section class="card me-card">
            <UserAvatar user={u} size="large" />
            <div>
              <p class="me-nickname">{displayName(u)}</p>
              <p class="muted">{t('contacts.nickname', { n: u.nickname })}</p>
              <p class="muted">{t('me.username', { u: u.username })}</p>
            </div>
          </section>
          <div class="stack">
            <button type="button" class="primary" onClick={() => action.run(() => openDirect(id))} disabled={blocked}>
              {t('contacts.message')}
            </button>
            <a class="button secondary" {...link(`/moments/user/${encodeURIComponent(id)}`)}>
              {t('moments.album')}
            </a>
          </div>
          <form onSubmit={saveRemark} class="card card-pad">
            <Field id="remark" label={t('contacts.remark')} hint={t('contacts.remarkHint')} value={remark} onValue={setRemark} maxLength={64} />
            <button type="submit" class="secondary" disabled={action.busy}>
              {t('common.save')}
            </button>
          </form>
          <div class="danger-zone stack">
            {confirm ? (
              <div class="confirm" role="group" aria-label={t(confirm === 'delete' ? 'contacts.deleteConfirm' : 'contacts.blockConfirm', { name: displayName(u) })}>
                <span>{t(confirm === 'delete' ? 'contacts.deleteConfirm' : 'contacts.blockConfirm', { name: displayName(u) })}</span>
                <button type="button" class="danger" onClick={() => (confirm === 'delete' ? remove() : block(true))}>
                  {t(confirm === 'delete' ? 'contacts.delete' : 'contacts.block')}
                </button>
                <button type="button" class="secondary" onClick={() => setConfirm('')}>
                  {t('common.cancel')}
                </button>
              </div>
            ) : (
              <>
                {blocked ? (
                  <button type="button" class="secondary" onClick={() => block(false)}>
                    {t('contacts.unblock')}
                  </button>
                ) : (
                  <button type="button" class="danger-outline" onClick={() => setConfirm('block')}>
                    {t('contacts.block')}
                  </button>
                )}
                <button type="button" class="danger-outline" onClick={() => setConfirm('delete')}>
                  {t('contacts.delete')}
                </button>
                <button type="button" class="danger-outline" onClick={() => setReporting(true)}>
                  {ct('report')}
                </button>
                {reporting && <ReportDialog kind="user" target={id} onClose={() => setReporting(false)} />}
              </>
            )}
          </div>
        </>
      )}
    </Page>
  );
}

export function Blocked() {
  const [list, setList] = useState<PublicUser[] | null>(null);
  const action = useAction();
  const load = async () => setList((await social.blocks()).blocked ?? []);
  useEffect(() => {
    action.run(load);
  }, []);
  async function unblock(u: PublicUser) {
    const ok = await action.run(async () => {
      await social.block(u.id, false);
      await load();
    });
    if (ok) action.setInfo(t('contacts.unblockedName', { name: displayName(u) }));
  }
  return (
    <Page title={t('contacts.blocked')} back="/contacts" narrow>
      <p class="hint">{t('contacts.blockedHint')}</p>
      <Notices error={action.error} info={action.info} />
      {list === null ? null : list.length === 0 ? (
        <p class="muted">{t('contacts.noneBlocked')}</p>
      ) : (
        <ul class="list card">
          {list.map((u) => (
            <PersonRow key={u.id} u={u}>
              <button type="button" class="secondary small-button" onClick={() => unblock(u)} aria-label={`${t('contacts.unblock')}: ${displayName(u)}`}>
                {t('contacts.unblock')}
              </button>
            </PersonRow>
          ))}
        </ul>
      )}
    </Page>
  );
}

export function NewGroup() {
  const [friends, setFriends] = useState<PublicUser[] | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [name, setName] = useState('');
  const action = useAction();
  useEffect(() => {
    action.run(async () => setFriends(byName((await social.contacts()).contacts ?? [])));
  }, []);
  async function create(e: Event) {
    e.preventDefault();
    if (!picked.length) {
      action.setError(t('group.pickSome'));
      return;
    }
    await action.run(async () => {
      const cv = await chat.createGroup(name.trim(), picked);
      navigate(`/chats/${encodeURIComponent(cv.id)}`);
    });
  }
  return (
    <Page title={t('group.new')} back="/contacts" narrow>
      <form onSubmit={create}>
        <Field id="group-name" label={t('group.name')} value={name} onValue={setName} maxLength={64} required />
        <fieldset>
          <legend>{t('group.pick')}</legend>
          {friends === null ? (
            <p>{t('app.loading')}</p>
          ) : friends.length === 0 ? (
            <p class="muted">{t('contacts.none')}</p>
          ) : (
            friends.map((f) => (
              <label key={f.id} class="check">
                <input
                  type="checkbox"
                  checked={picked.includes(f.id)}
                  onChange={(e) => setPicked((l) => ((e.currentTarget as HTMLInputElement).checked ? [...l, f.id] : l.filter((x) => x !== f.id)))}
                />
                {displayName(f)}
              </label>
            ))
          )}
        </fieldset>
        <Notices error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          {t('group.create')}
        </button>
      </form>
    </Page>
  );
}
