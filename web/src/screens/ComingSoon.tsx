import { Page } from '../components';
import { t, type Key } from '../i18n';
import { link } from '../router';

/** An honest placeholder for a tab whose server endpoints do not exist yet. */
export function ComingSoon({ tab }: { tab: 'chats' | 'contacts' | 'moments' }) {
  const name = t(`tab.${tab}` as Key);
  return (
    <Page title={name}>
      <div class="empty">
        <h2>{t('soon.title', { name })}</h2>
        <p>{t('soon.body')}</p>
        <a class="button secondary" {...link('/me')}>
          {t('soon.goMe')}
        </a>
      </div>
    </Page>
  );
}
