// Account screens for what the server already does, loaded lazily: the
// profile photo (PUT /api/v1/me/avatar), changing the password (PUT
// /api/v1/me/password; every other device is signed out), help and feedback
// tickets (/api/v1/me/tickets) and the service's notices to the person, such
// as security incidents (/api/v1/me/notices).

import { useEffect, useState } from 'preact/hooks';
import { ApiError, blobURL, request, type User } from './api';
import type { Ctx } from './app';
import { Field, NewPassword, Notices, Page, SendCodeButton, useAction } from './components';
import { vt } from './conv-text';
import { formatTime, lang, t } from './i18n';
import { onFrame } from './realtime';
import { link } from './router';

const en = {
  'photo.intro': 'Friends see this picture beside your name. It is re-encoded at most 512 pixels wide, without the photo’s hidden details (place, camera).',
  'photo.choose': 'Choose a picture',
  'photo.saved': 'Your profile photo was changed.',
  'photo.current': 'Your profile photo',
  'photo.none': 'No photo yet: your initial is shown.',
  'pw.current': 'Current password',
  'pw.new': 'New password',
  'pw.submit': 'Change password',
  'pw.done': 'Your password was changed. Every other device was signed out.',
  'pw.wrong': 'The current password is not right.',
  'support.intro': 'Ask a question or make a complaint. Our staff answer here; you can add to a request at any time.',
  'support.kind': 'What is it?',
  'support.question': 'A question',
  'support.complaint': 'A complaint',
  'support.subject': 'Subject',
  'support.body': 'Your message',
  'support.send': 'Send',
  'support.sent': 'Sent. We will answer here.',
  'support.mine': 'Your requests',
  'support.none': 'No requests yet.',
  'support.status.open': 'Open',
  'support.status.answered': 'Answered',
  'support.status.closed': 'Closed',
  'support.you': 'You',
  'support.staff': 'tkesj support',
  'support.reply': 'Add a message',
  'notices.none': 'No notices.',
  'notices.markRead': 'Mark as read',
  'notices.read': 'Read',
};
type AKey = keyof typeof en;
const zh: Record<AKey, string> = {
  'photo.intro': '好友会在你的名字旁看到这张图片。图片会重新编码（最宽 512 像素），并去除照片中隐藏的信息（地点、相机）。',
  'photo.choose': '选择图片',
  'photo.saved': '头像已更换。',
  'photo.current': '你的头像',
  'photo.none': '还没有头像：将显示你名字的首字。',
  'pw.current': '当前密码',
  'pw.new': '新密码',
  'pw.submit': '修改密码',
  'pw.done': '密码已修改，其他设备均已退出登录。',
  'pw.wrong': '当前密码不正确。',
  'support.intro': '提出问题或投诉。工作人员会在这里答复；你可以随时补充。',
  'support.kind': '类型',
  'support.question': '咨询',
  'support.complaint': '投诉',
  'support.subject': '主题',
  'support.body': '内容',
  'support.send': '提交',
  'support.sent': '已提交，我们会在这里答复。',
  'support.mine': '我的请求',
  'support.none': '还没有请求。',
  'support.status.open': '处理中',
  'support.status.answered': '已答复',
  'support.status.closed': '已关闭',
  'support.you': '我',
  'support.staff': 'tkesj 客服',
  'support.reply': '补充内容',
  'notices.none': '没有通知。',
  'notices.markRead': '标为已读',
  'notices.read': '已读',
};
function at(key: AKey): string {
  return (lang() === 'zh' ? zh : en)[key] ?? en[key];
}

// ------------------------------------------------------------ photo

export function Photo(c: Ctx) {
  const [src, setSrc] = useState('');
  const action = useAction();
  useEffect(() => {
    if (c.user.avatar_url) blobURL(c.user.avatar_url).then(setSrc, () => {});
  }, [c.user.avatar_url]);
  async function pick(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const f = input.files?.[0];
    input.value = '';
    if (!f) return;
    const ok = await action.run(async () => {
      const form = new FormData();
      form.append('file', f, f.name);
      const u = await request<Ctx['user']>('PUT', '/api/v1/me/avatar', { body: form });
      // The address may stay the same: fetch the new picture afresh.
      const fresh = `${u.avatar_url ?? `/api/v1/users/${c.user.id}/avatar`}${(u.avatar_url ?? '').includes('?') ? '&' : '?'}v=${Date.now()}`;
      c.setUser({ ...u, avatar_url: fresh });
    });
    if (ok) action.setInfo(at('photo.saved'));
  }
  return (
    <Page title={t('me.photo')} back="/me/profile" narrow>
      <div class="card card-pad photo-card">
        {src ? <img class="avatar avatar-xl" src={src} alt={at('photo.current')} /> : <p class="muted">{at('photo.none')}</p>}
        <p class="hint">{at('photo.intro')}</p>
        <label class="button primary">
          {at('photo.choose')}
          <input type="file" accept="image/*" class="sr-only" onChange={pick} disabled={action.busy} />
        </label>
      </div>
      <Notices error={action.error} info={action.info} />
    </Page>
  );
}

// ------------------------------------------------------------ password

export function Password(c: Ctx) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const action = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => {
      try {
        await request('PUT', '/api/v1/me/password', { body: { current, new: next } });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'invalid_credentials') throw at('pw.wrong');
        throw err;
      }
    });
    if (ok) {
      setCurrent('');
      setNext('');
      action.setInfo(at('pw.done'));
    }
  }
  return (
    <Page title={t('me.password')} back="/me/security" narrow>
      <form onSubmit={submit}>
        <Field id="current-password" label={at('pw.current')} type="password" autocomplete="current-password" value={current} onValue={setCurrent} required />
        <h2 class="small-heading">{at('pw.new')}</h2>
        <NewPassword value={next} onValue={setNext} related={[c.user.username, c.user.phone ?? '']} />
        <Notices error={action.error} info={action.info} />
        <button type="submit" class="primary" disabled={action.busy}>
          {at('pw.submit')}
        </button>
      </form>
    </Page>
  );
}

// ------------------------------------------------------------ phone number

/**
 * Change of phone number (R-ACC-6): a code texted to the new number (purpose
 * change_phone) and the current password (POST /api/v1/me/phone). A number
 * another account holds is refused before any code is sent (409 phone_taken).
 */
export function ChangePhone(c: Ctx) {
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  function known(err: unknown): unknown {
    if (err instanceof ApiError) {
      if (err.code === 'phone_taken') return vt('phoneTaken');
      if (err.code === 'same_phone') return vt('phoneSame');
      if (err.code === 'invalid_credentials' || err.code === 'code_mismatch' || err.code === 'reverification_failed') return vt('phoneWrong');
      if (err.status === 404 || err.status === 405) return vt('phoneUnavailable');
    }
    return err;
  }
  async function submit(e: Event) {
    e.preventDefault();
    if (phone.replace(/\D/g, '') === (c.user.phone ?? '').replace(/\D/g, '')) {
      action.setError(vt('phoneSame'));
      return;
    }
    let user: User | null = null;
    const ok = await action.run(async () => {
      try {
        user = await request<User>('POST', '/api/v1/me/phone', { body: { phone: phone.trim(), code: code.trim(), password } });
      } catch (err) {
        throw known(err);
      }
    });
    if (ok && user) {
      c.setUser({ ...c.user, ...(user as User) });
      setPhone('');
      setCode('');
      setPassword('');
      action.setInfo(vt('phoneDone', { phone: (user as User).phone ?? phone.trim() }));
    }
  }
  return (
    <Page title={vt('phoneTitle')} back="/me/security" narrow>
      <p>{vt('phoneIntro', { phone: c.user.phone ?? '' })}</p>
      <form onSubmit={submit}>
        <Field
          id="new-phone"
          label={vt('phoneNew')}
          hint={t('field.phoneHint')}
          type="tel"
          inputMode="tel"
          autocomplete="tel"
          value={phone}
          onValue={setPhone}
          required
          after={
            <SendCodeButton
              phone={phone}
              purpose="change_phone"
              onResult={(err, info) => {
                action.setError(err ? known(err) : null);
                action.setInfo(info);
              }}
            />
          }
        />
        <Field id="code" label={t('field.code')} inputMode="numeric" autocomplete="one-time-code" value={code} onValue={setCode} required />
        <Field id="phone-password" label={vt('phonePassword')} type="password" autocomplete="current-password" value={password} onValue={setPassword} required />
        <Notices error={action.error} info={action.info} />
        <button type="submit" class="primary" disabled={action.busy}>
          {vt('phoneSubmit')}
        </button>
      </form>
    </Page>
  );
}

// ------------------------------------------------------------ support

interface Ticket {
  id: string;
  kind: string;
  status: string;
  subject?: string;
  created_at?: string;
  updated_at?: string;
  messages?: { id: string; author: string; body: string; at: string; staff_ref?: string }[];
}

const statusText = (s: string) => (['open', 'answered', 'closed'].includes(s) ? at(`support.status.${s}` as AKey) : s);

export function Support() {
  const [list, setList] = useState<Ticket[] | null>(null);
  const [kind, setKind] = useState('question');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const action = useAction();
  const load = () => request<{ tickets: Ticket[] }>('GET', '/api/v1/me/tickets').then((r) => setList(r.tickets ?? []));
  useEffect(() => {
    action.run(load);
    return onFrame((f) => f.type === 'ticket' && load().catch(() => {}));
  }, []);
  async function open(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => {
      await request('POST', '/api/v1/me/tickets', { body: { kind, subject: subject.trim(), body: body.trim() } });
      await load();
    });
    if (ok) {
      setSubject('');
      setBody('');
      action.setInfo(at('support.sent'));
    }
  }
  return (
    <Page title={t('me.support')} back="/me">
      <p>{at('support.intro')}</p>
      <form onSubmit={open} class="card card-pad">
        <div class="field">
          <label for="ticket-kind">{at('support.kind')}</label>
          <select id="ticket-kind" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>
            <option value="question">{at('support.question')}</option>
            <option value="complaint">{at('support.complaint')}</option>
          </select>
        </div>
        <Field id="ticket-subject" label={at('support.subject')} value={subject} onValue={setSubject} maxLength={200} required />
        <div class="field">
          <label for="ticket-body">{at('support.body')}</label>
          <textarea id="ticket-body" rows={4} maxLength={5000} required value={body} onInput={(e) => setBody((e.currentTarget as HTMLTextAreaElement).value)} />
        </div>
        <button type="submit" class="primary" disabled={action.busy}>
          {at('support.send')}
        </button>
      </form>
      <Notices error={action.error} info={action.info} />
      <section aria-labelledby="tickets-heading">
        <h2 id="tickets-heading">{at('support.mine')}</h2>
        {list === null ? null : list.length === 0 ? (
          <p class="muted">{at('support.none')}</p>
        ) : (
          <ul class="list card" aria-labelledby="tickets-heading">
            {list.map((tk) => (
              <li key={tk.id}>
                <a class="list-item" {...link(`/me/support/${encodeURIComponent(tk.id)}`)}>
                  <span dir="auto">{tk.subject || tk.id}</span>
                  <span class="muted small">
                    {statusText(tk.status)} · {formatTime(tk.updated_at || tk.created_at)}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        )}
      </section>
    </Page>
  );
}

export function SupportTicket(c: Ctx) {
  const id = c.params[0];
  const [tk, setTk] = useState<Ticket | null>(null);
  const [reply, setReply] = useState('');
  const action = useAction();
  const load = () => request<Ticket>('GET', `/api/v1/me/tickets/${encodeURIComponent(id)}`).then(setTk);
  useEffect(() => {
    action.run(load);
    return onFrame((f) => f.type === 'ticket' && f.ticket_id === id && load().catch(() => {}));
  }, [id]);
  async function send(e: Event) {
    e.preventDefault();
    if (!reply.trim()) return;
    const ok = await action.run(async () => setTk(await request<Ticket>('POST', `/api/v1/me/tickets/${encodeURIComponent(id)}/messages`, { body: { body: reply.trim() } })));
    if (ok) setReply('');
  }
  return (
    <Page title={tk?.subject || t('me.support')} back="/me/support">
      <Notices error={action.error} />
      {tk && (
        <>
          <p class="muted small">
            {tk.kind === 'complaint' ? at('support.complaint') : at('support.question')} · {statusText(tk.status)}
          </p>
          <ul class="list card ticket-thread">
            {(tk.messages ?? []).map((m) => (
              <li key={m.id} class="card-pad">
                <p class="small muted">
                  {m.author === 'user' ? at('support.you') : m.staff_ref ? `${at('support.staff')} (${m.staff_ref})` : at('support.staff')} · {formatTime(m.at)}
                </p>
                <p class="pre-wrap" dir="auto">
                  {m.body}
                </p>
              </li>
            ))}
          </ul>
          <form onSubmit={send} class="card card-pad">
            <div class="field">
              <label for="ticket-reply">{at('support.reply')}</label>
              <textarea id="ticket-reply" rows={3} maxLength={5000} value={reply} onInput={(e) => setReply((e.currentTarget as HTMLTextAreaElement).value)} />
            </div>
            <button type="submit" class="primary" disabled={action.busy || !reply.trim()}>
              {at('support.send')}
            </button>
          </form>
        </>
      )}
    </Page>
  );
}

// ------------------------------------------------------------ notices

interface Notice {
  id: string;
  kind: string;
  title: string;
  body: string;
  ref?: string;
  created_at?: string;
  read_at?: string;
}

export function NoticesScreen() {
  const [list, setList] = useState<Notice[] | null>(null);
  const action = useAction();
  const load = () => request<{ notices: Notice[] }>('GET', '/api/v1/me/notices').then((r) => setList(r.notices ?? []));
  useEffect(() => {
    action.run(load);
    return onFrame((f) => f.type === 'notice' && load().catch(() => {}));
  }, []);
  async function read(n: Notice) {
    await action.run(async () => {
      await request('POST', `/api/v1/me/notices/${encodeURIComponent(n.id)}/read`);
      await load();
    });
  }
  return (
    <Page title={t('me.notices')} back="/me">
      <Notices error={action.error} />
      {list === null ? null : list.length === 0 ? (
        <p class="muted">{at('notices.none')}</p>
      ) : (
        <ul class="list card">
          {list.map((n) => (
            <li key={n.id} class={n.read_at ? 'card-pad notice-item' : 'card-pad notice-item unread'}>
              <h2 class="ann-title" dir="auto">
                {n.title}
              </h2>
              <p class="muted small">{formatTime(n.created_at)}</p>
              <p class="pre-wrap" dir="auto">
                {n.body}
              </p>
              {n.read_at ? (
                <p class="muted small">{at('notices.read')}</p>
              ) : (
                <button type="button" class="secondary small-button" onClick={() => read(n)} aria-label={`${at('notices.markRead')}: ${n.title}`}>
                  {at('notices.markRead')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

