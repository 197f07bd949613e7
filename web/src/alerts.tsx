// Banners for what the server tells a signed-in person as it happens: a login
// to their account from a device they had not used ({"type":"security",
// "event":"new_login"}) and a notice from the service, such as a security
// incident ({"type":"notice"}). Each stays until dismissed; notices are kept
// under Me › Notices too.

import { useEffect, useState } from 'preact/hooks';
import { formatTime, t } from './i18n';
import { onFrame, type Frame } from './realtime';
import { link } from './router';

interface Alert {
  key: string;
  text: string;
  href: string;
  action: string;
}

export function Alerts() {
  const [alerts, setAlerts] = useState<Alert[]>([]);
  useEffect(
    () =>
      onFrame((f: Frame) => {
        let a: Alert | null = null;
        if (f.type === 'security' && f.event === 'new_login') {
          const d = (f.device ?? {}) as { model?: string; os?: string };
          const device = [d.model, d.os].filter(Boolean).join(' · ') || t('device.unknown');
          a = { key: `login-${f.at}-${device}`, text: t('alert.newLogin', { device, time: formatTime(f.at) }), href: '/me/security', action: t('alert.review') };
        } else if (f.type === 'notice') {
          a = { key: `notice-${f.id}`, text: t('alert.notice', { title: String(f.title ?? '') }), href: '/me/notices', action: t('alert.read') };
        }
        if (a) setAlerts((l) => [...l.filter((x) => x.key !== a!.key), a!]);
      }),
    [],
  );
  if (!alerts.length) return null;
  const drop = (k: string) => setAlerts((l) => l.filter((x) => x.key !== k));
  return (
    <div class="alerts" role="alert">
      {alerts.map((a) => (
        <p key={a.key} class="notice notice-error alert-banner">
          <span>{a.text}</span>{' '}
          <a {...link(a.href)} onClick={(e) => (link(a.href).onClick(e), drop(a.key))}>
            {a.action}
          </a>{' '}
          <button type="button" class="link-button" onClick={() => drop(a.key)}>
            {t('alert.dismiss')}
          </button>
        </p>
      ))}
    </div>
  );
}
