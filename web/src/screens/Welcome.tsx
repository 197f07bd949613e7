import { Notices } from '../components';
import { LanguageSelect } from '../language';
import { t } from '../i18n';
import { link } from '../router';

export function Welcome({ notice, onLang }: { notice?: string; onLang: () => void }) {
  return (
    <main class="page page-narrow welcome" id="main">
      <div class="welcome-logo" aria-hidden="true">
        t
      </div>
      <h1 tabIndex={-1}>{t('app.name')}</h1>
      <p class="tagline">{t('welcome.tagline')}</p>
      <Notices info={notice} />
      <div class="stack">
        <a class="button primary" {...link('/login')}>
          {t('welcome.login')}
        </a>
        <a class="button secondary" {...link('/register')}>
          {t('welcome.register')}
        </a>
      </div>
      <LanguageSelect onChange={onLang} />
    </main>
  );
}
