import { useEffect, useState } from 'preact/hooks';
import { api, type Announcement } from '../api';
import { Notices, Page } from '../components';
import { formatTime, t } from '../i18n';

/** R-OPS-2: announcements the service sends to everyone, newest first. */
export function Announcements() {
  const [list, setList] = useState<Announcement[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.announcements().then(
      (r) => setList([...(r.announcements ?? [])].sort((a, b) => (b.at ?? '').localeCompare(a.at ?? ''))),
      setError,
    );
  }, []);
  return (
    <Page title={t('me.announcements')} back="/me" narrow>
      <Notices error={error} />
      {!list && !error && <p class="muted">{t('app.loading')}</p>}
      {list && list.length === 0 && <p class="muted">{t('ann.empty')}</p>}
      {list && list.length > 0 && (
        <ul class="list card consents" aria-label={t('me.announcements')}>
          {list.map((a) => (
            <li key={a.id} class="consent">
              <article aria-labelledby={`ann-${a.id}`}>
                <h2 class="ann-title" id={`ann-${a.id}`}>
                  {a.title}
                  {a.kind === 'policy' && <span class="badge">{t('ann.policy')}</span>}
                </h2>
                <p class="pre-wrap">{a.body}</p>
                <p class="muted small">{formatTime(a.at)}</p>
              </article>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
