import { useEffect, useState } from 'preact/hooks';
import { blobURL, type User } from '../api';
import { Notices, Page, useAction } from '../components';
import { t } from '../i18n';
import { LanguageSelect } from '../language';
import { link } from '../router';

export function Avatar({ user, size = 'large' }: { user: User; size?: 'large' | 'small' }) {
  // The picture needs the bearer token, so it is fetched into a blob: URL.
  const [src, setSrc] = useState('');
  useEffect(() => {
    setSrc('');
    if (user.avatar_url) blobURL(user.avatar_url).then(setSrc, () => {});
  }, [user.avatar_url]);
  if (src) return <img class={`avatar avatar-${size}`} src={src} alt="" />;
  const initial = Array.from(user.nickname || user.username || '?')[0].toUpperCase();
  return (
    <span class={`avatar avatar-${size}`} aria-hidden="true">
      {initial}
    </span>
  );
}

/** The "Me" tab: who you are, and the way to every account and privacy setting. */
export function Me({ user, onLogout, onLang }: { user: User; onLogout: () => Promise<void>; onLang: () => void }) {
  const action = useAction();
  // The staff console is offered only to staff: /me names their role.
  const staff = !!user.staff_role;
  const items: [string, string][] = [
    ['/me/profile', t('me.profile')],
    ['/me/favorites', t('me.favorites')],
    ['/me/security', t('me.security')],
    ['/me/privacy', t('me.privacy')],
    ['/me/data', t('me.data')],
    ['/me/qr', t('qr.mine')],
    ['/me/scan', t('qr.scanLogin')],
    ['/me/announcements', t('me.announcements')],
    ['/me/notices', t('me.notices')],
    ['/me/support', t('me.support')],
    ['/me/notifications', t('notify.title')],
  ];
  if (staff) items.push(['/staff', t('me.staff')]);
  return (
    <Page title={t('me.title')}>
      <section class="card me-card" aria-label={t('me.profile')}>
        <Avatar user={user} />
        <div>
          <p class="me-nickname">{user.nickname}</p>
          <p class="muted">{t('me.username', { u: user.username })}</p>
          {user.phone && <p class="muted">{user.phone}</p>}
        </div>
      </section>
      {user.status === 'pending_guardian' && <p class="notice notice-error">{t('me.pendingGuardian')}</p>}
      {user.status === 'frozen' && <p class="notice notice-error">{t('me.frozen')}</p>}
      <nav aria-label={t('me.title')}>
        <ul class="list card">
          {items.map(([href, label]) => (
            <li key={href}>
              <a class="list-item" {...link(href)}>
                <span>{label}</span>
                <span class="chevron" aria-hidden="true">
                  ›
                </span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="card card-pad">
        <LanguageSelect onChange={onLang} />
      </div>
      <Notices error={action.error} />
      <button type="button" class="secondary danger-text" disabled={action.busy} onClick={() => action.run(onLogout)}>
        {t('me.logout')}
      </button>
    </Page>
  );
}
