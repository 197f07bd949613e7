import { LANGS, lang, setLang, t, type Lang } from './i18n';

/** Switches the interface language; the choice is remembered in this browser. */
export function LanguageSelect({ onChange }: { onChange: () => void }) {
  return (
    <div class="field lang-select">
      <label for="lang">{t('me.language')}</label>
      <select
        id="lang"
        value={lang()}
        onChange={(e) => {
          setLang((e.currentTarget as HTMLSelectElement).value as Lang);
          onChange();
        }}
      >
        {LANGS.map((l) => (
          <option key={l.id} value={l.id} lang={l.tag}>
            {l.name}
          </option>
        ))}
      </select>
    </div>
  );
}
