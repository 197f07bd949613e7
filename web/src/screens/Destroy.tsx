import { useState } from 'preact/hooks';
import { api } from '../api';
import { Field, Notices, Page, useAction } from '../components';
import { t } from '../i18n';
import { link } from '../router';

/** R-DEL-2: destroy the account at once, after re-entering the password. */
export function Destroy({ onDestroyed }: { onDestroyed: () => void }) {
  const [password, setPassword] = useState('');
  const form = useAction();

  async function submit(e: Event) {
    e.preventDefault();
    const ok = await form.run(() => api.destroyAccount(password));
    if (ok) onDestroyed();
  }

  return (
    <Page title={t('destroy.title')} back="/me/security" narrow>
      <div class="warning" role="note">
        <p class="warning-title">{t('destroy.warning')}</p>
        <ul>
          <li>{t('destroy.p1')}</li>
          <li>{t('destroy.p2')}</li>
          <li>{t('destroy.p3')}</li>
          <li>{t('destroy.p4')}</li>
        </ul>
        <p>
          <a {...link('/me/data')}>{t('destroy.p5')}</a>
        </p>
      </div>
      <form onSubmit={submit}>
        <Field id="destroy-password" label={t('destroy.password')} type="password" autocomplete="current-password" value={password} onValue={setPassword} required />
        <Notices error={form.error} />
        <button type="submit" class="danger" disabled={form.busy}>
          {t('destroy.submit')}
        </button>
      </form>
    </Page>
  );
}
