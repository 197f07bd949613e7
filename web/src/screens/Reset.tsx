import { useState } from 'preact/hooks';
import { ApiError, request } from '../api';
import { Field, NewPassword, Notices, Page, SendCodeButton, useAction } from '../components';
import { t } from '../i18n';
import { link, navigate } from '../router';

/**
 * Forgotten password: a code texted to the account's phone (purpose "reset")
 * and a new password (POST /api/v1/password-resets). Every device is signed
 * out; the person then logs in with the new password.
 */
export function Reset({ onDone }: { onDone: (notice: string) => void }) {
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const form = useAction();

  async function submit(e: Event) {
    e.preventDefault();
    await form.run(async () => {
      try {
        await request('POST', '/api/v1/password-resets', { body: { phone: phone.trim(), code: code.trim(), new_password: password }, auth: false });
      } catch (err) {
        // A server without the reset route: say what to do instead.
        if (err instanceof ApiError && (err.status === 404 || err.status === 405) && err.code !== 'invalid_credentials') throw t('reset.unavailable');
        if (err instanceof ApiError && err.code === 'invalid_credentials') throw t('reset.wrongCode');
        throw err;
      }
      onDone(t('reset.done'));
      navigate('/login');
    });
  }

  return (
    <Page title={t('reset.title')} back="/login" narrow>
      <p>{t('reset.intro')}</p>
      <form onSubmit={submit}>
        <Field
          id="phone"
          label={t('field.phone')}
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
              purpose="reset"
              onResult={(err, info) => {
                form.setError(err);
                form.setInfo(info);
              }}
            />
          }
        />
        <Field id="code" label={t('field.code')} inputMode="numeric" autocomplete="one-time-code" value={code} onValue={setCode} required />
        <h2 class="small-heading">{t('reset.newPassword')}</h2>
        <NewPassword value={password} onValue={setPassword} related={[phone]} />
        <Notices error={form.error} info={form.info} />
        <button type="submit" class="primary" disabled={form.busy}>
          {t('reset.submit')}
        </button>
      </form>
      <p class="alt-action">
        <a {...link('/login')}>{t('login.title')}</a>
      </p>
    </Page>
  );
}
