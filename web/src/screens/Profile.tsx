import { useState } from 'preact/hooks';
import { api, type User } from '../api';
import { Field, GenderSelect, Notices, Page, useAction } from '../components';
import { t } from '../i18n';
import { link } from '../router';

/** R-ACC-5: correct nickname, gender and username. Sends only what changed. */
export function Profile({ user, onUser }: { user: User; onUser: (u: User) => void }) {
  const [nickname, setNickname] = useState(user.nickname);
  const [gender, setGender] = useState(String(user.gender || 'unspecified'));
  const [username, setUsername] = useState(user.username);
  const form = useAction();

  async function submit(e: Event) {
    e.preventDefault();
    const change: Partial<Pick<User, 'nickname' | 'gender' | 'username'>> = {};
    if (nickname.trim() !== user.nickname) change.nickname = nickname.trim();
    if (gender !== user.gender) change.gender = gender;
    if (username.trim() !== user.username) change.username = username.trim();
    if (Object.keys(change).length === 0) {
      form.setInfo(t('profile.unchanged'));
      return;
    }
    const ok = await form.run(async () => onUser(await api.updateMe(change)));
    if (ok) form.setInfo(t('common.saved'));
  }

  return (
    <Page title={t('profile.title')} back="/me" narrow>
      <p>
        <a class="button secondary" {...link('/me/photo')}>
          {t('me.photo')}
        </a>
      </p>
      <form onSubmit={submit}>
        <Field id="nickname" label={t('field.nickname')} autocomplete="nickname" value={nickname} onValue={setNickname} required />
        <GenderSelect value={gender} onValue={setGender} />
        <Field id="username" label={t('field.username')} hint={t('field.usernameHint')} autocomplete="username" value={username} onValue={setUsername} required />
        <Notices error={form.error} info={form.info} />
        <button type="submit" class="primary" disabled={form.busy}>
          {t('common.save')}
        </button>
      </form>
    </Page>
  );
}
