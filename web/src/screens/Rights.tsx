import { useEffect, useState } from 'preact/hooks';
import { social, type RightsRequest, type User } from '../api';
import { Field, Notices, SendCodeButton, useAction } from '../components';
import { formatTime, t, type Key } from '../i18n';

const KINDS = ['access', 'correction', 'deletion', 'explanation', 'complaint'] as const;

/** One request: its state, the answer, and identity verification while it waits for it. */
function RequestItem({ r, phone, onChange }: { r: RightsRequest; phone: string; onChange: (r: RightsRequest) => void }) {
  const [code, setCode] = useState('');
  const action = useAction();
  async function verify(e: Event) {
    e.preventDefault();
    await action.run(async () => onChange(await social.verifyRightsRequest(r.id, code.trim())));
  }
  return (
    <li class="consent">
      <div>
        <p>
          <span class="consent-kind">{t(`rights.kind.${r.kind}` as Key)}</span>
          <span class="badge">{t(`rights.status.${r.status}` as Key) || r.status}</span>
        </p>
        <p class="small">{r.details}</p>
        {r.answer && <p class="small">{t('rights.answer', { a: r.answer })}</p>}
        <p class="muted small">
          {r.received_at && t('rights.received', { t: formatTime(r.received_at) })}
          {r.due_at && <> · {t('rights.due', { t: formatTime(r.due_at) })}</>}
        </p>
        {r.status === 'received' && (
          <form onSubmit={verify} class="rights-verify">
            <p class="hint">{t('rights.verifyHint')}</p>
            <Field
              id={`rv-${r.id}`}
              label={t('field.code')}
              inputMode="numeric"
              autocomplete="one-time-code"
              value={code}
              onValue={setCode}
              required
              after={<SendCodeButton phone={phone} purpose="step_up" onResult={(err, info) => (action.setError(err), action.setInfo(info))} />}
            />
            <Notices error={action.error} info={action.info} />
            <button type="submit" class="secondary" disabled={action.busy}>
              {t('rights.verify')}
            </button>
          </form>
        )}
      </div>
    </li>
  );
}

/** Requests to exercise one's rights (access, correction, deletion, explanation, complaint). */
export function RightsRequests({ user }: { user: User }) {
  const [list, setList] = useState<RightsRequest[] | null>(null);
  const [kind, setKind] = useState<(typeof KINDS)[number]>('access');
  const [details, setDetails] = useState('');
  const action = useAction();
  useEffect(() => {
    action.run(async () => setList((await social.rightsRequests()).requests ?? []));
  }, []);
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => {
      const r = await social.createRightsRequest(kind, details.trim());
      setList((l) => [r, ...(l ?? [])]);
    });
    if (ok) {
      setDetails('');
      action.setInfo(t('rights.sent'));
    }
  }
  return (
    <section aria-labelledby="rights-heading">
      <h2 id="rights-heading">{t('rights.title')}</h2>
      <p class="hint">{t('rights.intro')}</p>
      <form onSubmit={submit} class="card card-pad">
        <div class="field">
          <label for="rights-kind">{t('rights.kind')}</label>
          <select id="rights-kind" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as (typeof KINDS)[number])}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`rights.kind.${k}` as Key)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="rights-details">{t('rights.details')}</label>
          <textarea id="rights-details" rows={3} maxLength={4000} required value={details} onInput={(e) => setDetails((e.currentTarget as HTMLTextAreaElement).value)} />
        </div>
        <Notices error={action.error} info={action.info} />
        <button type="submit" class="secondary" disabled={action.busy || !details.trim()}>
          {t('rights.submit')}
        </button>
      </form>
      {list && list.length > 0 && (
        <ul class="list card consents" aria-label={t('rights.list')}>
          {list.map((r) => (
            <RequestItem key={r.id} r={r} phone={user.phone ?? ''} onChange={(n) => setList((l) => (l ?? []).map((x) => (x.id === n.id ? n : x)))} />
          ))}
        </ul>
      )}
    </section>
  );
}
