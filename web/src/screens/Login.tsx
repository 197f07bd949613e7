import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, qr, type LoginQR, type User } from '../api';
import { Field, Notices, Page, SendCodeButton, useAction } from '../components';
import { t } from '../i18n';
import { link } from '../router';

type Mode = 'password' | 'code' | 'qr';
const MODES: Mode[] = ['password', 'code', 'qr'];
const POLL_MS = 1500;

/**
 * Log in by QR: the server issues a one-time login code (with its PNG); a
 * phone or browser already signed in takes it (Me > Scan to log in) and
 * confirms. This page polls until then and picks the session up.
 */
function QRLogin({ onSignedIn }: { onSignedIn: (u: User, token: string) => void }) {
  const [code, setCode] = useState<LoginQR | null>(null);
  const [status, setStatus] = useState('pending');
  const [error, setError] = useState<unknown>(null);
  const timer = useRef<number | undefined>(undefined);

  async function fresh() {
    setError(null);
    setStatus('pending');
    setCode(null);
    try {
      setCode(await qr.createLogin());
    } catch (e) {
      setError(e);
    }
  }
  useEffect(() => {
    fresh();
    return () => window.clearTimeout(timer.current);
  }, []);
  // Poll until the code is confirmed, denied or expired: every answer (or
  // failure) arms the next poll, whether or not the status changed.
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!code || status === 'denied' || status === 'expired' || status === 'confirmed') return;
    timer.current = window.setTimeout(async () => {
      // The code's own deadline counts too, so "expired" shows even if the
      // server cannot be reached to say so.
      if (Date.parse(code.expires_at) <= Date.now()) {
        setStatus('expired');
        return;
      }
      try {
        const r = await qr.pollLogin(code.id, code.poll_token);
        if (r.status === 'confirmed' && r.token && r.user) {
          onSignedIn(r.user, r.token);
          return;
        }
        setStatus(r.status === 'confirmed' ? 'expired' : r.status);
        setError(null);
      } catch (e) {
        setError(e);
      }
      setTick((n) => n + 1);
    }, POLL_MS);
    return () => window.clearTimeout(timer.current);
  }, [code, status, tick]);

  const over = status === 'denied' || status === 'expired';
  return (
    <div class="qr-login">
      <Notices error={error} />
      {code ? (
        <>
          {code.png && <img class={over ? 'qr-img qr-stale' : 'qr-img'} src={code.png} alt={t('qr.loginAlt')} width={256} height={256} />}
          <p class="center" role="status" aria-live="polite">
            {t(`qr.status.${status}` as 'qr.status.pending')}
          </p>
          {over && (
            <button type="button" class="primary" onClick={fresh}>
              {t('qr.newCode')}
            </button>
          )}
          <details class="small">
            <summary>{t('qr.cantScan')}</summary>
            <p>{t('qr.cantScanHint')}</p>
            <p class="qr-payload" data-payload={code.payload}>
              {code.payload}
            </p>
          </details>
        </>
      ) : (
        !error && <p class="center muted">{t('app.loading')}</p>
      )}
    </div>
  );
}

/** R-ACC-4: log in by username or phone with a password, or by phone with a code. */
export function Login({ notice, onSignedIn }: { notice?: string; onSignedIn: (u: User, token: string) => void }) {
  const [mode, setMode] = useState<Mode>('password');
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  // A password login from a new device on a new network: the server texts a
  // code and wants it with the password (step_up_code).
  const [stepUp, setStepUp] = useState(false);
  const [stepCode, setStepCode] = useState('');
  const form = useAction();

  function pick(m: Mode, focus = false) {
    setMode(m);
    setStepUp(false);
    form.setError(null);
    form.setInfo('');
    if (focus) document.getElementById(`tab-${m}`)?.focus();
  }

  // Arrow keys move between the tabs, as in any tab list.
  function onTabKey(e: KeyboardEvent) {
    const i = MODES.indexOf(mode);
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % MODES.length;
    else if (e.key === 'ArrowLeft') next = (i + MODES.length - 1) % MODES.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = MODES.length - 1;
    if (next < 0) return;
    e.preventDefault();
    pick(MODES[next], true);
  }

  async function submit(e: Event) {
    e.preventDefault();
    await form.run(async () => {
      try {
        const res =
          mode === 'password' ? await api.loginPassword(login.trim(), password, stepUp ? stepCode.trim() : undefined) : await api.loginCode(phone.trim(), code.trim());
        onSignedIn(res.user, res.token);
      } catch (err) {
        if (mode === 'password' && err instanceof ApiError && err.code === 'step_up_required') {
          setStepUp(true);
          setStepCode('');
          form.setInfo(t('login.stepUpSent'));
          window.setTimeout(() => document.getElementById('step-code')?.focus(), 0);
          return;
        }
        if (stepUp && err instanceof ApiError && err.code === 'invalid_credentials') throw t('login.stepUpWrong');
        throw err;
      }
    });
  }

  const label = { password: t('login.tabPassword'), code: t('login.tabCode'), qr: t('login.tabQR') };
  return (
    <Page title={t('login.title')} back="/" narrow>
      <Notices info={form.info || notice} error={form.error} />
      <div class="tabs" role="tablist" aria-label={t('login.tabs')}>
        {MODES.map((m) => (
          <button
            key={m}
            type="button"
            role="tab"
            id={`tab-${m}`}
            aria-selected={mode === m}
            aria-controls="login-panel"
            tabIndex={mode === m ? 0 : -1}
            onClick={() => pick(m)}
            onKeyDown={onTabKey}
          >
            {label[m]}
          </button>
        ))}
      </div>
      <div id="login-panel" role="tabpanel" aria-labelledby={`tab-${mode}`}>
        {mode === 'qr' ? (
          <QRLogin onSignedIn={onSignedIn} />
        ) : (
        <form onSubmit={submit}>
          {mode === 'password' ? (
            <>
              <Field id="login" label={t('login.login')} autocomplete="username" value={login} onValue={setLogin} required />
              <Field id="password" label={t('field.password')} type="password" autocomplete="current-password" value={password} onValue={setPassword} required />
              {stepUp && (
                <Field
                  id="step-code"
                  label={t('login.stepUpCode')}
                  hint={t('login.stepUpHint')}
                  inputMode="numeric"
                  autocomplete="one-time-code"
                  value={stepCode}
                  onValue={setStepCode}
                  required
                />
              )}
            </>
          ) : (
            <>
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
                    purpose="login"
                    onResult={(err, info) => {
                      form.setError(err);
                      form.setInfo(info);
                    }}
                  />
                }
              />
              <Field id="code" label={t('field.code')} inputMode="numeric" autocomplete="one-time-code" value={code} onValue={setCode} required />
            </>
          )}
          <button type="submit" class="primary" disabled={form.busy}>
            {t('login.submit')}
          </button>
        </form>
        )}
      </div>
      <p class="alt-action">
        <a {...link('/reset')}>{t('login.forgot')}</a>
      </p>
      <p class="alt-action">
        {t('login.noAccount')} <a {...link('/register')}>{t('welcome.register')}</a>
      </p>
    </Page>
  );
}
