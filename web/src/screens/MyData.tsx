import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, download, type AccessEntry, type Export, type User } from '../api';
import { RightsRequests } from './Rights';
import { Notices, Page, useAction } from '../components';
import { formatTime, t, tMaybe } from '../i18n';

const POLL_MS = 2000;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** R-RGT-1: request an export of everything the server holds, then download it. */
export function MyData({ user }: { user: User }) {
  const [exp, setExp] = useState<Export | null>(null);
  const [retries, setRetries] = useState(0);
  const action = useAction();
  const timer = useRef<number | undefined>(undefined);

  // Pick up the newest earlier export, so a pending one is still followed and a
  // ready one can be downloaded after leaving this screen. The list call is an
  // extension of API.md: when it fails the screen simply starts empty.
  useEffect(() => {
    api.exports().then(
      (res) => {
        const newest = [...(res.exports ?? [])].sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''))[0];
        if (newest) setExp((cur) => cur ?? newest);
      },
      () => {},
    );
  }, []);

  // Poll while the export is pending; stop when it settles or the screen closes.
  // A failed poll is shown and retried, unless the export is gone (404).
  useEffect(() => {
    if (!exp || exp.status !== 'pending') return;
    timer.current = window.setTimeout(async () => {
      try {
        setExp(await api.exportStatus(exp.id));
        action.setError(null);
      } catch (e) {
        action.setError(e);
        if (e instanceof ApiError && e.status === 404) setExp(null);
        else setRetries((n) => n + 1);
      }
    }, POLL_MS);
    return () => window.clearTimeout(timer.current);
  }, [exp, retries]);

  async function request() {
    await action.run(async () => setExp(await api.requestExport()));
  }

  async function save() {
    if (!exp?.download_url) return;
    const url = exp.download_url;
    await action.run(async () => {
      const { blob, name } = await download(url);
      const href = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = href;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
      action.setInfo(t('data.downloaded', { name }));
    });
  }

  const status = exp?.status;
  return (
    <Page title={t('data.title')} back="/me" narrow>
      <p>{t('data.intro')}</p>
      <div class="export-status" aria-live="polite">
        {status === 'pending' && <p>{t('data.pending')}</p>}
        {status === 'ready' && (
          <>
            <p>{t('data.ready')}</p>
            <p class="muted small">
              {[
                exp?.size !== undefined && formatBytes(exp.size),
                exp?.expires_at && t('data.expires', { t: formatTime(exp.expires_at) }),
              ]
                .filter(Boolean)
                .join(' · ')}
            </p>
          </>
        )}
        {status === 'failed' && <p class="error-text">{t('data.failed')}</p>}
      </div>
      <Notices error={action.error} info={action.info} />
      <div class="stack">
        {status === 'ready' && exp?.download_url && (
          <button type="button" class="primary" onClick={save} disabled={action.busy}>
            {t('data.download')}
          </button>
        )}
        <button type="button" class={status === 'ready' ? 'secondary' : 'primary'} onClick={request} disabled={action.busy || status === 'pending'}>
          {t('data.request')}
        </button>
      </div>
      <RightsRequests user={user} />
      <AccessLog />
    </Page>
  );
}

/** R-SEC-1: every staff read of this person's data, with the purpose the staff member gave. */
function AccessLog() {
  const [list, setList] = useState<AccessEntry[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.accessLog().then((r) => setList(r.entries ?? []), setError);
  }, []);
  return (
    <section aria-labelledby="access-heading">
      <h2 id="access-heading">{t('access.title')}</h2>
      <p class="hint">{t('access.intro')}</p>
      <Notices error={error} />
      {list && list.length === 0 && <p class="muted">{t('access.empty')}</p>}
      {list && list.length > 0 && (
        <ul class="list card consents" aria-label={t('access.list')}>
          {list.map((e) => (
            <li key={e.id} class="consent">
              <div>
                <p>
                  <span class="consent-kind">{e.what || e.action}</span>
                </p>
                {e.purpose && <p class="small">{t('access.purpose', { p: e.purpose })}</p>}
                {e.ground && <p class="small">{t('access.ground', { g: e.ground_wording || e.ground })}</p>}
                {e.reference && <p class="small">{t('access.ref', { r: e.reference })}</p>}
                {e.description && <p class="small">{e.description}</p>}
                <p class="muted small">
                  {t('access.by', { role: (e.staff_role && tMaybe(`role.${e.staff_role}`)) || e.staff_role || '', t: formatTime(e.at) })}
                </p>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
