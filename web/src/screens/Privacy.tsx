import { useEffect, useState } from 'preact/hooks';
import { PERMISSIONS, api, social, type Consent, type Permission, type Policy, type Settings } from '../api';
import { Notices, Page, PolicyText, useAction } from '../components';
import { formatTime, lang, t, tMaybe, type Key } from '../i18n';

const permName = (p: string) => (PERMISSIONS.includes(p as Permission) ? t(`perm.${p}` as Key) : p);

/**
 * The purposes the server records ledger entries with (in English: the
 * record is kept as written), in Chinese for display: the Chinese history
 * read "uploading pictures and videos from the album". A purpose not here
 * (a data recipient's, written by staff) shows as recorded.
 */
const zhPurposes: Record<string, string> = {
  'acceptance of the privacy policy at registration': '注册时同意隐私政策',
  'acceptance of an updated privacy policy': '同意更新后的隐私政策',
  "a parent or guardian consents to a minor's use of tkesj": '父母或监护人同意未成年人使用 tkesj',
  'security risk control, statistics and message push': '安全风控、统计和消息推送',
  'saving and opening pictures, videos and files': '保存和打开图片、视频及文件',
  'uploading pictures and videos from the album': '从相册上传图片和视频',
  'taking photos and videos to send or post': '拍摄照片和视频以发送或发表',
  'sharing your current location in chats and Moments': '在聊天和朋友圈中分享当前位置',
  'sending voice messages': '发送语音消息',
  'showing notifications of new messages while the app is closed (Web Push)': '在 tkesj 关闭时显示新消息通知（Web 推送）',
};
const purposeText = (p: string) => (lang() === 'zh' && zhPurposes[p]) || p;

/**
 * Whether each permission is granted, from the newest "permission" entry for it
 * in the consent ledger. The server has no read call for current state; the
 * ledger is the record it keeps, so it is the source of truth here too.
 */
function permissionState(consents: Consent[]): Record<string, boolean> {
  const state: Record<string, boolean> = {};
  for (const c of consents) if (c.kind === 'permission') state[c.subject] = c.granted;
  return state;
}

const SWITCHES = ['found_by_phone', 'found_by_username', 'friend_requests_need_approval', 'push_show_text'] as const;
type SwitchKey = (typeof SWITCHES)[number];

/** Discoverability, friend requests, notification text and the Moments range (settings API). */
function SettingsSection() {
  const [st, setSt] = useState<Settings | null>(null);
  const [busy, setBusy] = useState<string>('');
  const action = useAction();
  useEffect(() => {
    action.run(async () => setSt(await social.settings()));
    if (location.hash === '#moments-range') setTimeout(() => document.getElementById('moments-range')?.focus(), 300);
  }, []);
  async function save(change: Settings, what: string) {
    setBusy(what);
    const ok = await action.run(async () => setSt(await social.updateSettings(change)));
    setBusy('');
    if (ok) action.setInfo(t('common.saved'));
  }
  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">{t('settings.title')}</h2>
      <Notices error={action.error} info={action.info} />
      <ul class="list card">
        {SWITCHES.map((k: SwitchKey) => (
          <li key={k} class="perm">
            <div class="perm-text">
              <label for={`set-${k}`}>{t(`settings.${k}` as Key)}</label>
              <p class="muted small" id={`set-${k}-desc`}>
                {t(`settings.${k}.desc` as Key)}
              </p>
            </div>
            <input
              type="checkbox"
              role="switch"
              class="switch"
              id={`set-${k}`}
              checked={!!st?.[k]}
              aria-checked={!!st?.[k]}
              aria-describedby={`set-${k}-desc`}
              disabled={!st || busy === k}
              onChange={(e) => save({ [k]: (e.currentTarget as HTMLInputElement).checked }, k)}
            />
          </li>
        ))}
        <li class="perm">
          <div class="perm-text">
            <label for="moments-range">{t('settings.moments_range')}</label>
            <p class="muted small" id="moments-range-desc">
              {t('settings.moments_range.desc')}
            </p>
          </div>
          <select
            id="moments-range"
            class="inline-select"
            value={st?.moments_range ?? 'all'}
            aria-describedby="moments-range-desc"
            disabled={!st || busy === 'range'}
            onChange={(e) => save({ moments_range: (e.currentTarget as HTMLSelectElement).value as Settings['moments_range'] }, 'range')}
          >
            <option value="3d">{t('settings.range.3d')}</option>
            <option value="6m">{t('settings.range.6m')}</option>
            <option value="all">{t('settings.range.all')}</option>
          </select>
        </li>
      </ul>
    </section>
  );
}

/** R-PRM-1, R-CON-1: permission switches and the full consent history. */
export function Privacy() {
  const [consents, setConsents] = useState<Consent[] | null>(null);
  const [pending, setPending] = useState<Partial<Record<Permission, boolean>>>({});
  const [policy, setPolicy] = useState<Policy | null>(null);
  const action = useAction();

  async function reload() {
    const res = await api.consents();
    setConsents(res.consents ?? []);
  }
  useEffect(() => {
    action.run(reload);
  }, []);

  async function toggle(p: Permission, granted: boolean) {
    setPending((x) => ({ ...x, [p]: granted }));
    const ok = await action.run(async () => {
      await api.setPermission(p, granted);
      await reload();
    });
    setPending((x) => {
      const y = { ...x };
      delete y[p];
      return y;
    });
    if (ok) action.setInfo(t(granted ? 'perm.on' : 'perm.off', { name: permName(p) }));
  }

  const state = permissionState(consents ?? []);
  return (
    <Page title={t('privacy.title')} back="/me">
      <SettingsSection />
      <Notices error={action.error} info={action.info} />
      <section aria-labelledby="perm-heading">
        <h2 id="perm-heading">{t('privacy.permissions')}</h2>
        <p class="hint">{t('privacy.permissionsHint')}</p>
        <ul class="list card">
          {PERMISSIONS.map((p) => {
            const on = pending[p] ?? state[p] ?? false;
            return (
              <li key={p} class="perm">
                <div class="perm-text">
                  <label for={`perm-${p}`}>{t(`perm.${p}` as Key)}</label>
                  <p class="muted small" id={`perm-${p}-desc`}>
                    {t(`perm.${p}.desc` as Key)}
                  </p>
                </div>
                <input
                  type="checkbox"
                  role="switch"
                  class="switch"
                  id={`perm-${p}`}
                  checked={on}
                  aria-checked={on}
                  aria-describedby={`perm-${p}-desc`}
                  disabled={consents === null || p in pending}
                  onChange={(e) => toggle(p, (e.currentTarget as HTMLInputElement).checked)}
                />
              </li>
            );
          })}
        </ul>
      </section>

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">{t('privacy.history')}</h2>
        <p class="hint">{t('privacy.historyHint')}</p>
        {consents === null ? (
          !action.error && <p>{t('app.loading')}</p>
        ) : consents.length === 0 ? (
          <p>{t('privacy.empty')}</p>
        ) : (
          <ol class="list card consents" aria-labelledby="history-heading">
            {consents.map((c, i) => (
              <li key={i} class="consent">
                <div>
                  <p>
                    <span class="consent-kind">{tMaybe(`consent.kind.${c.kind}`) ?? c.kind}</span>
                    {': '}
                    <span class="consent-subject">
                      {c.kind === 'permission' ? permName(c.subject) : c.kind === 'policy' ? t('policy.version', { v: c.subject }) : c.subject}
                    </span>
                  </p>
                  {c.purpose && <p class="small">{purposeText(c.purpose)}</p>}
                  <p class="muted small">
                    {c.policy_version && <>{t('consent.policyVersion', { v: c.policy_version })} · </>}
                    <time dateTime={c.at}>{formatTime(c.at)}</time>
                  </p>
                </div>
                <span class={c.granted ? 'badge' : 'badge badge-off'}>{t(c.granted ? 'consent.granted' : 'consent.withdrawn')}</span>
              </li>
            ))}
          </ol>
        )}
      </section>

      <details
        class="card card-pad"
        onToggle={(e) => {
          if ((e.currentTarget as HTMLDetailsElement).open && !policy) api.policy().then(setPolicy, action.setError);
        }}
      >
        <summary>{t('privacy.policy')}</summary>
        {policy ? <PolicyText policy={policy} /> : <p>{t('app.loading')}</p>}
      </details>
    </Page>
  );
}
