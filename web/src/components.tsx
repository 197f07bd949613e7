// Small building blocks shared by the screens: page frame, form fields, the
// live regions that announce errors and progress, and the "Send code" button.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type CodePurpose, type Policy } from './api';
import { formatList, problemText, t } from './i18n';
import { CLASSES, MIN_LENGTH, strength } from './password';
import { link } from './router';

/** What to tell a person about a failed call. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429) return t('err.rateLimited', { n: err.retryAfter ?? 60 });
    if (err.status === 0) return t('err.network');
    const own = problemText(err.code);
    if (own) return own;
    // Server details start in lower case (they read as clauses); capitalise for display.
    if (err.detail) return err.detail.charAt(0).toUpperCase() + err.detail.slice(1);
    return t('err.generic', { status: err.status });
  }
  if (typeof err === 'string') return err;
  return t('err.generic', { status: '?' });
}

/**
 * State for one form or action: busy while it runs, its error (announced
 * assertively) and its progress or success note (announced politely).
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [info, setInfo] = useState('');
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  async function run(f: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    setInfo('');
    try {
      await f();
      return true;
    } catch (e) {
      if (alive.current) setError(e);
      return false;
    } finally {
      if (alive.current) setBusy(false);
    }
  }
  return { busy, error, info, setError, setInfo, run };
}

/** The two live regions of a form. They stay in the DOM so changes are announced. */
export function Notices({ error, info }: { error?: unknown; info?: string }) {
  const text = error ? errorText(error) : '';
  return (
    <>
      <div class={text ? 'notice notice-error' : 'notice-empty'} role="alert" aria-live="assertive">
        {text}
      </div>
      <div class={info ? 'notice notice-info' : 'notice-empty'} role="status" aria-live="polite">
        {info}
      </div>
    </>
  );
}

interface PageProps {
  title: string;
  back?: string;
  children: ComponentChildren;
  /** Forms use a narrow column; lists may use the shell's width. */
  narrow?: boolean;
}

/** A screen: header with an optional back link and the title, which takes focus. */
export function Page({ title, back, children, narrow }: PageProps) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · tkesj`;
    // Move focus to the new screen's title so keyboard and screen-reader users
    // start there, as they would after a page load.
    window.scrollTo(0, 0);
    h.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <main class={narrow ? 'page page-narrow' : 'page'} id="main">
      <header class="page-header">
        {back ? (
          <a class="back" {...link(back)} aria-label={t('common.back')}>
            <span aria-hidden="true">‹</span>
          </a>
        ) : (
          <span class="back-spacer" />
        )}
        <h1 tabIndex={-1} ref={h}>
          {title}
        </h1>
        <span class="back-spacer" />
      </header>
      <div class="page-body">{children}</div>
    </main>
  );
}

interface FieldProps {
  id: string;
  label: string;
  hint?: ComponentChildren;
  value: string;
  onValue: (v: string) => void;
  type?: 'text' | 'password' | 'tel' | 'date';
  autocomplete?: string;
  inputMode?: 'text' | 'tel' | 'numeric' | 'email';
  required?: boolean;
  maxLength?: number;
  pattern?: string;
  after?: ComponentChildren;
  describedBy?: string;
}

/** A labelled text input with an optional hint tied to it by aria-describedby. */
export function Field(p: FieldProps) {
  const hintId = p.hint ? `${p.id}-hint` : undefined;
  const described = [hintId, p.describedBy].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={p.id}>{p.label}</label>
      <div class={p.after ? 'field-row' : undefined}>
        <input
          id={p.id}
          name={p.id}
          // Preact's types discriminate <input> on a literal `type`; ours varies.
          type={(p.type ?? 'text') as 'text'}
          value={p.value}
          onInput={(e) => p.onValue((e.currentTarget as HTMLInputElement).value)}
          autocomplete={p.autocomplete}
          inputMode={p.inputMode}
          required={p.required}
          maxLength={p.maxLength}
          pattern={p.pattern}
          aria-describedby={described}
          spellcheck={false}
        />
        {p.after}
      </div>
      {p.hint && (
        <p class="hint" id={hintId}>
          {p.hint}
        </p>
      )}
    </div>
  );
}

const GENDERS = ['unspecified', 'male', 'female', 'other'] as const;

export function GenderSelect({ value, onValue }: { value: string; onValue: (v: string) => void }) {
  return (
    <div class="field">
      <label for="gender">{t('field.gender')}</label>
      <select id="gender" name="gender" value={value} onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}>
        {GENDERS.map((g) => (
          <option value={g} key={g}>
            {t(`gender.${g}`)}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * "Send code": asks the server to text a one-time code, then counts down before
 * it may be pressed again. A 429 restarts the countdown from Retry-After.
 */
export function SendCodeButton(p: {
  phone: string;
  purpose: CodePurpose;
  onResult: (error: unknown, info: string) => void;
}) {
  const [wait, setWait] = useState(0);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (wait <= 0) return;
    const id = setTimeout(() => setWait(wait - 1), 1000);
    return () => clearTimeout(id);
  }, [wait]);
  async function send() {
    const phone = p.phone.trim();
    if (!phone) {
      p.onResult(t('code.needPhone'), '');
      return;
    }
    setBusy(true);
    try {
      await api.sendCode(phone, p.purpose);
      setWait(60);
      p.onResult(null, t('code.sent', { phone }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 429) setWait(e.retryAfter ?? 60);
      p.onResult(e, '');
    } finally {
      setBusy(false);
    }
  }
  return (
    <button type="button" class="secondary send-code" onClick={send} disabled={busy || wait > 0}>
      {wait > 0 ? t('code.resend', { n: wait }) : t('code.send')}
    </button>
  );
}

/**
 * A new-password input with live feedback: a meter, a checklist of the four
 * character classes, and a sentence naming what is missing.
 */
export function NewPassword({ value, onValue, related }: { value: string; onValue: (v: string) => void; related: string[] }) {
  const [show, setShow] = useState(false);
  const s = strength(value, related);
  const score = s.ok ? 4 : Math.min(3, s.count);
  let summary: string;
  if (!value) summary = t('pw.empty');
  else if (s.tooLong) summary = t('pw.tooLong');
  else if (s.personal) summary = t('pw.personal');
  else if (s.ok) summary = t('pw.ok');
  else if (s.needClasses === 0) summary = t('pw.short', { n: s.length });
  else summary = t('pw.needMore', { list: formatList(s.missing.map((c) => t(`pw.${c}`))), k: s.needClasses });
  return (
    <div class="field">
      <label for="password">{t('field.password')}</label>
      <div class="field-row">
        <input
          id="password"
          name="password"
          type={(show ? 'text' : 'password') as 'text'}
          value={value}
          onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
          autocomplete="new-password"
          required
          aria-describedby="password-rule password-summary"
          spellcheck={false}
        />
      </div>
      <label class="check small">
        <input type="checkbox" checked={show} onChange={(e) => setShow((e.currentTarget as HTMLInputElement).checked)} />
        {t('pw.show')}
      </label>
      <div class={`meter meter-${value ? score : 0}`} aria-hidden="true">
        <span />
        <span />
        <span />
        <span />
      </div>
      <p class="hint" id="password-rule">
        {t('pw.rule')}
      </p>
      <ul class="pw-checks" aria-hidden="true">
        <li class={s.length >= MIN_LENGTH ? 'yes' : 'no'}>{t('pw.length8')}</li>
        {CLASSES.map((c) => (
          <li key={c} class={s.has[c] ? 'yes' : 'no'}>
            {t(`pw.${c}`)}
          </li>
        ))}
      </ul>
      <p class={s.ok ? 'hint pw-summary ok' : 'hint pw-summary'} id="password-summary" aria-live="polite">
        {summary}
      </p>
    </div>
  );
}

/** The policy text in a scrollable box that keyboard users can scroll too. */
export function PolicyText({ policy }: { policy: Policy }) {
  return (
    <div class="policy" tabIndex={0} role="region" aria-label={`${t('policy.title')} (${t('policy.version', { v: policy.version })})`}>
      <p class="policy-version">{t('policy.version', { v: policy.version })}</p>
      {policy.text
        .split(/\n{2,}/)
        .map((para, i) => (
          <p key={i}>{para}</p>
        ))}
    </div>
  );
}
