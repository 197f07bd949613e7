import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, request } from '../api';
import { vt } from '../conv-text';
import { Field, NewPassword, Notices, Page, SendCodeButton, useAction } from '../components';
import { t } from '../i18n';
import { link, navigate } from '../router';

type Step = 1 | 2 | 3;

/**
 * Forgotten password (R-ACC-6), in three steps as phones do it: the
 * account's phone number, the code texted to it (purpose "reset"), a new
 * password (POST /api/v1/password-resets). Each step is a history entry, so
 * the browser's Back goes to the step before. The screen never says whether
 * a number has an account: the code step reads the same either way, and a
 * wrong phone/code pair is one message. Every device is then signed out.
 * Loaded lazily: nobody needs it at start.
 */
export function Reset({ onDone }: { onDone: (notice: string) => void }) {
  const [step, setStepState] = useState<Step>(() => (history.state?.resetStep as Step) || 1);
  const [phone, setPhone] = useState(() => sessionStorage.getItem('tkesj.reset.phone') ?? '');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const form = useAction();
  // An error to show on the step the person is sent back to.
  const carry = useRef<string | null>(null);

  // A reload keeps the step only if the phone is known (it lives in this tab).
  useEffect(() => {
    if (step > 1 && !phone) setStepState(1);
    const onPop = () => setStepState((history.state?.resetStep as Step) || 1);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  useEffect(() => {
    form.setError(carry.current);
    carry.current = null;
    document.querySelector<HTMLInputElement>('.reset-step input')?.focus();
  }, [step]);

  function go(n: Step) {
    history.pushState({ resetStep: n }, '', '/reset');
    setStepState(n);
  }

  async function sendCode(e: Event) {
    e.preventDefault();
    const p = phone.trim();
    if (!p) {
      form.setError(t('code.needPhone'));
      return;
    }
    let info = '';
    const ok = await form.run(async () => {
      try {
        await api.sendCode(p, 'reset');
      } catch (err) {
        // Still waiting out the resend cooldown: the code sent before works.
        if (err instanceof ApiError && err.status === 429) {
          info = t('code.resend', { n: err.retryAfter ?? 60 });
          return;
        }
        throw err;
      }
    });
    if (!ok) return;
    sessionStorage.setItem('tkesj.reset.phone', p);
    go(2);
    if (info) form.setInfo(info);
  }

  function toPassword(e: Event) {
    e.preventDefault();
    if (!/^\d{4,8}$/.test(code.trim())) {
      form.setError(vt('resetNeedCode'));
      return;
    }
    go(3);
  }

  async function submit(e: Event) {
    e.preventDefault();
    let wrong = false;
    const ok = await form.run(async () => {
      try {
        await request('POST', '/api/v1/password-resets', { body: { phone: phone.trim(), code: code.trim(), new_password: password }, auth: false });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'invalid_credentials') {
          wrong = true;
          return;
        }
        // A server without the reset route: say what to do instead.
        if (err instanceof ApiError && (err.status === 404 || err.status === 405)) throw vt('reset.unavailable');
        throw err;
      }
    });
    if (wrong) {
      // Back to the code: the phone or the code is wrong (never which).
      setCode('');
      carry.current = vt('reset.wrongCode');
      history.back();
      return;
    }
    if (!ok) return;
    sessionStorage.removeItem('tkesj.reset.phone');
    onDone(vt('reset.done'));
    navigate('/login', true);
  }

  return (
    <Page title={vt('reset.title')} back="/login" narrow>
      <p class="muted small" aria-live="polite">
        {vt('resetStep', { n: step })}
      </p>
      {step === 1 && (
        <form class="reset-step" onSubmit={sendCode}>
          <p>{vt('resetPhoneIntro')}</p>
          <Field id="phone" label={t('field.phone')} hint={t('field.phoneHint')} type="tel" inputMode="tel" autocomplete="tel" value={phone} onValue={setPhone} required />
          <Notices error={form.error} info={form.info} />
          <button type="submit" class="primary" disabled={form.busy}>
            {vt('resetSendCode')}
          </button>
        </form>
      )}
      {step === 2 && (
        <form class="reset-step" onSubmit={toPassword}>
          <p>{vt('resetCodeIntro', { phone: phone.trim() })}</p>
          <Field
            id="code"
            label={t('field.code')}
            inputMode="numeric"
            autocomplete="one-time-code"
            value={code}
            onValue={setCode}
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
          <Notices error={form.error} info={form.info} />
          <button type="submit" class="primary">
            {vt('resetNext')}
          </button>
          <button type="button" class="link-button" onClick={() => history.back()}>
            {vt('resetChangePhone')}
          </button>
        </form>
      )}
      {step === 3 && (
        <form class="reset-step" onSubmit={submit}>
          <p>{vt('resetPasswordIntro')}</p>
          <h2 class="small-heading">{vt('reset.newPassword')}</h2>
          <NewPassword value={password} onValue={setPassword} related={[phone]} />
          <Notices error={form.error} info={form.info} />
          <button type="submit" class="primary" disabled={form.busy}>
            {vt('reset.submit')}
          </button>
          <button type="button" class="link-button" onClick={() => history.back()}>
            {vt('resetBack')}
          </button>
        </form>
      )}
      <p class="alt-action">
        <a {...link('/login')}>{t('login.title')}</a>
      </p>
    </Page>
  );
}
