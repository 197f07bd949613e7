// Reporting a message, a person or a Moments post to the service's moderators
// (POST /api/v1/reports). A modal dialog with a reason; the server keeps the
// report and its staff act on it under the staff console.

import { useEffect, useRef, useState } from 'preact/hooks';
import { request } from './api';
import { ct } from './chat-text';
import { Notices } from './components';
import { t } from './i18n';

export function ReportDialog({ kind, target, onClose }: { kind: 'message' | 'user' | 'moment'; target: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  async function send(e: Event) {
    e.preventDefault();
    if (!reason.trim()) {
      setError(ct('report.needReason'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await request('POST', '/api/v1/reports', { body: { target_kind: kind, target_id: target, reason: reason.trim() } });
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const title = ct(`report.title.${kind}` as 'report.title.user');
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="report-title" onClose={onClose}>
      <h2 id="report-title">{title}</h2>
      {done ? (
        <>
          <p role="status">{ct('report.thanks')}</p>
          <div class="dialog-actions">
            <button type="button" class="primary" autoFocus onClick={() => ref.current?.close()}>
              {t('common.close')}
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={send}>
          <div class="field">
            <label for="report-reason">{ct('report.reason')}</label>
            <textarea id="report-reason" rows={4} maxLength={1000} value={reason} onInput={(e) => setReason((e.currentTarget as HTMLTextAreaElement).value)} />
            <p class="hint">{ct('report.hint')}</p>
          </div>
          <Notices error={error} />
          <div class="dialog-actions">
            <button type="button" class="secondary" onClick={() => ref.current?.close()}>
              {t('common.cancel')}
            </button>
            <button type="submit" class="danger" disabled={busy}>
              {ct('report.send')}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
