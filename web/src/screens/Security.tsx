import { useEffect, useState } from 'preact/hooks';
import { api, type Device, type User } from '../api';
import { Notices, Page, useAction } from '../components';
import { formatTime, t } from '../i18n';
import { link } from '../router';

function deviceName(d: Device): string {
  const parts = [d.model, d.os].filter(Boolean);
  return parts.length ? parts.join(' · ') : t('device.unknown');
}

/** R-DEV-4: the devices signed in to this account; sign any other one out. */
export function Security({ user }: { user: User }) {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const action = useAction();

  function load() {
    return action.run(async () => {
      const res = await api.devices();
      // The current device first, then the most recently active.
      const list = [...(res.devices ?? [])].sort(
        (a, b) => Number(!!b.current) - Number(!!a.current) || (b.last_seen_at ?? '').localeCompare(a.last_seen_at ?? ''),
      );
      setDevices(list);
    });
  }
  useEffect(() => {
    load();
  }, []);

  async function signOut(d: Device) {
    const ok = await action.run(async () => {
      await api.signOutDevice(d.id);
      setDevices((list) => (list ?? []).filter((x) => x.id !== d.id));
    });
    setConfirming(null);
    if (ok) {
      action.setInfo(t('device.signedOut', { name: deviceName(d) }));
      document.getElementById('devices-heading')?.focus();
    }
  }

  return (
    <Page title={t('security.title')} back="/me">
      {user.phone && (
        <dl class="card card-pad facts">
          <dt>{t('security.phone')}</dt>
          <dd>{user.phone}</dd>
        </dl>
      )}
      <section aria-labelledby="devices-heading">
        <h2 id="devices-heading" tabIndex={-1}>
          {t('security.devices')}
        </h2>
        <p class="hint">{t('security.devicesHint')}</p>
        <Notices error={action.error} info={action.info} />
        {devices === null ? (
          !action.error && <p>{t('app.loading')}</p>
        ) : devices.length === 0 ? (
          <p>{t('device.none')}</p>
        ) : (
          <ul class="list card devices">
            {devices.map((d) => (
              <li key={d.id} class="device" data-device-id={d.id}>
                <div class="device-text">
                  <p class="device-name">
                    {deviceName(d)}
                    {d.current && <span class="badge">{t('device.current')}</span>}
                  </p>
                  <p class="muted small">{[d.app_version, d.network, d.login_ip && t('device.ip', { ip: d.login_ip })].filter(Boolean).join(' · ')}</p>
                  <p class="muted small">
                    {[
                      d.created_at && t('device.signedIn', { t: formatTime(d.created_at) }),
                      d.last_seen_at && t('device.lastSeen', { t: formatTime(d.last_seen_at) }),
                    ]
                      .filter(Boolean)
                      .join(' · ')}
                  </p>
                </div>
                {!d.current &&
                  (confirming === d.id ? (
                    <div class="confirm" role="group" aria-label={t('device.confirm', { name: deviceName(d) })}>
                      <span class="small">{t('device.confirm', { name: deviceName(d) })}</span>
                      <button type="button" class="danger" disabled={action.busy} onClick={() => signOut(d)}>
                        {t('device.confirmYes')}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        {t('common.cancel')}
                      </button>
                    </div>
                  ) : (
                    <button type="button" class="secondary" onClick={() => setConfirming(d.id)} aria-label={`${t('device.signOut')}: ${deviceName(d)}`}>
                      {t('device.signOut')}
                    </button>
                  ))}
              </li>
            ))}
          </ul>
        )}
      </section>
      <ul class="list card">
        <li>
          <a class="list-item" {...link('/me/phone')}>
            <span>{t('security.changePhone')}</span>
            <span class="chevron" aria-hidden="true">
              ›
            </span>
          </a>
        </li>
        <li>
          <a class="list-item" {...link('/me/password')}>
            <span>{t('me.password')}</span>
            <span class="chevron" aria-hidden="true">
              ›
            </span>
          </a>
        </li>
      </ul>
      <section class="danger-zone">
        <a class="button danger-outline" {...link('/me/security/destroy')}>
          {t('security.destroy')}
        </a>
      </section>
    </Page>
  );
}
