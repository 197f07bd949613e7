// QR codes: my personal code (the server draws the PNG), and the logged-in
// side of "log in by QR": take a login code's text, show which device asks
// to be signed in, then confirm or deny. Loaded lazily.

import { useEffect, useState } from 'preact/hooks';
import { blobURL, qr, social, type LoginQRRequester } from './api';
import type { Ctx } from './app';
import { Notices, Page, useAction } from './components';
import { formatTime, t } from './i18n';
import { link } from './router';
import { displayName } from './ui';
import { QRScanner } from './qrscan';

export function MyQR(c: Ctx) {
  const [src, setSrc] = useState('');
  const [payload, setPayload] = useState('');
  const [scan, setScan] = useState('');
  const action = useAction();
  useEffect(() => {
    action.run(async () => setSrc(await blobURL('/api/v1/me/qr?size=512')));
  }, []);

  async function add(e: Event) {
    e.preventDefault();
    await addCode(scan);
  }
  async function addCode(text: string) {
    const p = text.trim();
    if (!p) return;
    if (p.startsWith('tkesj:login:')) {
      action.setError(t('qr.isLogin'));
      return;
    }
    const ok = await action.run(async () => {
      const r = await qr.scan(p);
      // Scanning only identifies the person; the request is sent here.
      if (r.kind === 'friend' && r.user && !r.is_friend) await social.sendRequest(r.user.id, '');
      if (r.kind === 'friend' && r.user) action.setInfo(r.is_friend ? t('qr.alreadyFriend', { name: displayName(r.user) }) : t('req.sent', { name: displayName(r.user) }));
      else action.setInfo(t('qr.scanned'));
    });
    if (ok) setScan('');
  }

  return (
    <Page title={t('qr.mine')} back="/me" narrow>
      <div class="card card-pad qr-card">
        <p class="me-nickname">{c.user.nickname}</p>
        <p class="muted">{t('me.username', { u: c.user.username })}</p>
        {src ? <img class="qr-img" src={src} alt={t('qr.mineAlt', { name: c.user.nickname })} width={256} height={256} /> : <p>{t('app.loading')}</p>}
        <p class="hint">{t('qr.mineHint')}</p>
        {payload ? (
          <p class="small qr-payload">{payload}</p>
        ) : (
          <button
            type="button"
            class="link-button"
            onClick={() => action.run(async () => setPayload((await qr.myCode()).payload))}
          >
            {t('qr.showText')}
          </button>
        )}
      </div>
      <Notices error={action.error} info={action.info} />
      <section class="card card-pad" aria-labelledby="scan-friend-heading">
        <h2 id="scan-friend-heading">{t('scan.friend')}</h2>
        <QRScanner idPrefix="friend" onResult={(text) => addCode(text)} />
      </section>
      <form onSubmit={add} class="card card-pad">
        <div class="field">
          <label for="scan-friend">{t('qr.pasteFriend')}</label>
          <input id="scan-friend" type="text" value={scan} onInput={(e) => setScan((e.currentTarget as HTMLInputElement).value)} autocomplete="off" spellcheck={false} />
        </div>
        <button type="submit" class="secondary" disabled={action.busy}>
          {t('qr.addByCode')}
        </button>
      </form>
      <p class="alt-action">
        <a {...link('/me/scan')}>{t('qr.scanLogin')}</a>
      </p>
    </Page>
  );
}

function deviceName(r: LoginQRRequester): string {
  const d = r.requester.device ?? {};
  return [d.model, d.os].filter(Boolean).join(' · ') || t('device.unknown');
}

export function ScanLogin() {
  const [payload, setPayload] = useState('');
  const [req, setReq] = useState<LoginQRRequester | null>(null);
  const [done, setDone] = useState('');
  const action = useAction();

  async function check(e: Event) {
    e.preventDefault();
    await checkCode(payload);
  }
  async function checkCode(text: string) {
    const p = text.trim();
    if (!p) return;
    setDone('');
    await action.run(async () => setReq(await qr.scanLogin(p)));
  }
  async function answer(confirm: boolean) {
    if (!req) return;
    const ok = await action.run(() => qr.answerLogin(req.id, confirm));
    if (ok) {
      setDone(confirm ? t('qr.confirmed', { device: deviceName(req) }) : t('qr.denied'));
      setReq(null);
      setPayload('');
    }
  }

  return (
    <Page title={t('qr.scanLogin')} back="/me" narrow>
      <p>{t('qr.scanLoginIntro')}</p>
      {!req && (
        <QRScanner
          idPrefix="login"
          onResult={(text) => {
            setPayload(text);
            checkCode(text);
          }}
        />
      )}
      <form onSubmit={check}>
        <div class="field">
          <label for="login-payload">{t('qr.payload')}</label>
          <input
            id="login-payload"
            type="text"
            value={payload}
            autocomplete="off"
            spellcheck={false}
            placeholder="tkesj:login:…"
            onInput={(e) => setPayload((e.currentTarget as HTMLInputElement).value)}
            aria-describedby="login-payload-hint"
          />
          <p class="hint" id="login-payload-hint">
            {t('qr.payloadHint')}
          </p>
        </div>
        <button type="submit" class="primary" disabled={action.busy || !!req}>
          {t('qr.check')}
        </button>
      </form>
      <Notices error={action.error} info={done} />
      {req && (
        <section class="card card-pad requester" aria-labelledby="requester-heading">
          <h2 id="requester-heading">{t('qr.requester')}</h2>
          <dl class="facts">
            <dt>{t('qr.device')}</dt>
            <dd class="requester-device">{deviceName(req)}</dd>
            {req.requester.device?.app_version && (
              <>
                <dt>{t('qr.app')}</dt>
                <dd>{req.requester.device.app_version}</dd>
              </>
            )}
            {req.requester.ip && (
              <>
                <dt>{t('qr.ip')}</dt>
                <dd>{req.requester.ip}</dd>
              </>
            )}
            {req.requester.created_at && (
              <>
                <dt>{t('qr.when')}</dt>
                <dd>{formatTime(req.requester.created_at)}</dd>
              </>
            )}
          </dl>
          <p class="warning-title small">{t('qr.onlyYours')}</p>
          <div class="stack">
            <button type="button" class="primary" onClick={() => answer(true)} disabled={action.busy}>
              {t('qr.confirm')}
            </button>
            <button type="button" class="secondary" onClick={() => answer(false)} disabled={action.busy}>
              {t('qr.deny')}
            </button>
          </div>
        </section>
      )}
    </Page>
  );
}
