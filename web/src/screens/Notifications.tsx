import { useState } from 'preact/hooks';
import { Notices, Page, useAction } from '../components';
import { t, type Key } from '../i18n';
import { disableNotifications, enableNotifications, notifyState, setSound, soundOn, type NotifyState } from '../notify';
import { link } from '../router';

/** Me → Notifications and sound (R-NTF-2, R-NTF-3): allow push on this device, and the sound. */
export function Notifications() {
  const action = useAction();
  const [state, setState] = useState<NotifyState>(notifyState());
  const [sound, setSoundState] = useState(soundOn());

  async function allow() {
    const ok = await action.run(async () => setState(await enableNotifications()));
    if (ok) action.setInfo(t(notifyState() === 'on' ? 'notify.onInfo' : 'notify.notAllowed'));
    else setState(notifyState());
  }
  async function off() {
    if (await action.run(disableNotifications)) {
      setState(notifyState());
      action.setInfo(t('notify.offInfo'));
    }
  }

  return (
    <Page title={t('notify.title')} back="/me">
      <Notices error={action.error} info={action.info} />
      <section class="card notify-card" aria-labelledby="notify-push">
        <h2 id="notify-push">{t('notify.push')}</h2>
        <p class="muted" id="notify-state">
          {t(`notify.state.${state}` as Key)}
        </p>
        {state === 'on' ? (
          <button type="button" class="secondary" disabled={action.busy} onClick={off} aria-describedby="notify-state">
            {t('notify.turnOff')}
          </button>
        ) : (
          state !== 'unsupported' && (
            <button type="button" class="primary" disabled={action.busy || state === 'denied'} onClick={allow} aria-describedby="notify-state">
              {t('notify.allow')}
            </button>
          )
        )}
        <p class="hint">
          {t('notify.previewHint')} <a {...link('/me/privacy')}>{t('me.privacy')}</a>
        </p>
      </section>
      <section class="card notify-card perm" aria-label={t('notify.sound')}>
        <div class="perm-text">
          <label for="notify-sound">{t('notify.sound')}</label>
          <p class="muted small" id="notify-sound-desc">
            {t('notify.soundDesc')}
          </p>
        </div>
        <input
          type="checkbox"
          role="switch"
          class="switch"
          id="notify-sound"
          checked={sound}
          aria-checked={sound}
          aria-describedby="notify-sound-desc"
          onChange={(e) => {
            const on = (e.currentTarget as HTMLInputElement).checked;
            setSound(on);
            setSoundState(on);
          }}
        />
      </section>
    </Page>
  );
}
