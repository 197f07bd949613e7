import { useEffect, useState } from 'preact/hooks';
import { PERMISSIONS, api, type Consent, type Permission, type Policy } from '../api';
import { Notices, Page, PolicyText, useAction } from '../components';
import { formatTime, t, tMaybe, type Key } from '../i18n';

const permName = (p: string) => (PERMISSIONS.includes(p as Permission) ? t(`perm.${p}` as Key) : p);

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
                  {c.purpose && <p class="small">{c.purpose}</p>}
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
