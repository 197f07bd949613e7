import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Policy, type User } from '../api';
import { Field, GenderSelect, NewPassword, Notices, Page, PolicyText, SendCodeButton, useAction } from '../components';
import { t } from '../i18n';
import { strength } from '../password';
import { link } from '../router';

/** R-ACC-1, R-ACC-2: register with a verified phone and accept the current policy. */
export function Register({ onSignedIn }: { onSignedIn: (u: User, token: string) => void }) {
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [nickname, setNickname] = useState('');
  const [gender, setGender] = useState('unspecified');
  const [birth, setBirth] = useState('');
  const [accepted, setAccepted] = useState(false);
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [policyError, setPolicyError] = useState<unknown>(null);
  const form = useAction();
  // What became of "Send code", said under the phone field: the form's own
  // notices sit by the submit button, a screen and a half down on a phone,
  // where a refused number ("12345") went unseen and the button seemed dead.
  const sendCode = useAction();
  const related = [username, phone, nickname];

  async function loadPolicy() {
    setPolicyError(null);
    try {
      setPolicy(await api.policy());
    } catch (e) {
      setPolicyError(e);
    }
  }
  useEffect(() => {
    loadPolicy();
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    if (!strength(password, related).ok) {
      form.setError(t('pw.weak', { rule: t('pw.rule') }));
      document.getElementById('password')?.focus();
      return;
    }
    if (!policy || !accepted) {
      form.setError(t('policy.mustAccept'));
      document.getElementById(policy ? 'accept' : 'policy-retry')?.focus();
      return;
    }
    await form.run(async () => {
      try {
        const res = await api.register({
          phone: phone.trim(),
          code: code.trim(),
          username: username.trim(),
          password,
          nickname: nickname.trim(),
          gender,
          policy_version: policy.version,
          ...(birth ? { birth_date: birth } : {}),
        });
        onSignedIn(res.user, res.token);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'policy_acceptance_required') {
          // The policy changed while the form was open: show the new text and
          // ask for acceptance again rather than sending a stale version.
          setAccepted(false);
          await loadPolicy();
          throw t('policy.changed');
        }
        throw err;
      }
    });
  }

  return (
    <Page title={t('register.title')} back="/" narrow>
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
              purpose="register"
              onResult={(err, info) => {
                sendCode.setError(err);
                sendCode.setInfo(info);
              }}
            />
          }
        />
        <Notices error={sendCode.error} info={sendCode.info} />
        <Field
          id="code"
          label={t('field.code')}
          inputMode="numeric"
          autocomplete="one-time-code"
          value={code}
          onValue={setCode}
          required
        />
        <Field
          id="username"
          label={t('field.username')}
          hint={t('field.usernameHint')}
          autocomplete="username"
          value={username}
          onValue={setUsername}
          required
        />
        <NewPassword value={password} onValue={setPassword} related={related} />
        <Field id="nickname" label={t('field.nickname')} autocomplete="nickname" value={nickname} onValue={setNickname} required />
        <GenderSelect value={gender} onValue={setGender} />
        <Field id="birth" label={t('field.birth')} hint={t('field.birthHint')} type="date" autocomplete="bday" value={birth} onValue={setBirth} />

        <fieldset class="policy-box">
          <legend>{t('policy.title')}</legend>
          {policy ? (
            <>
              <PolicyText policy={policy} />
              <label class="check">
                <input
                  id="accept"
                  type="checkbox"
                  checked={accepted}
                  required
                  onChange={(e) => setAccepted((e.currentTarget as HTMLInputElement).checked)}
                />
                {t('policy.accept')}
              </label>
            </>
          ) : policyError ? (
            <div>
              <Notices error={policyError} />
              <p>{t('policy.loadFailed')}</p>
              <button type="button" id="policy-retry" class="secondary" onClick={loadPolicy}>
                {t('common.retry')}
              </button>
            </div>
          ) : (
            <p>{t('app.loading')}</p>
          )}
        </fieldset>

        <Notices error={form.error} info={form.info} />
        <button type="submit" class="primary" disabled={form.busy}>
          {t('register.submit')}
        </button>
      </form>
      <p class="alt-action">
        {t('register.haveAccount')} <a {...link('/login')}>{t('welcome.login')}</a>
      </p>
    </Page>
  );
}
