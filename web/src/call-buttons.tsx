// The voice and video call buttons of a chat's header. Part of the chat
// chunk: pressing one loads the call screens (call-ring.tsx) and starts the
// call; while a call is on, they are disabled. Line icons, not emoji: the
// first emoji on a page makes the browser search its fonts for one that has
// it, which cost the chat's first layout ~40 ms (150 ms on Lighthouse's phone).

import { useEffect, useState } from 'preact/hooks';
import { loadCallUI, useCallUI } from './call-ring';
import { ct } from './call-text';
import { t } from './i18n';
import { Icon } from './ui';

export function CallButtons({ convId }: { convId: string }) {
  const m = useCallUI();
  const [, force] = useState(0);
  useEffect(() => {
    if (!m) return;
    const off = m.engine.subscribe(() => force((n) => n + 1));
    force((n) => n + 1); // what changed before this effect ran
    return off;
  }, [m]);
  const phase = m?.engine.phase ?? 'idle';
  const busy = phase !== 'idle' && phase !== 'ended';
  const start = (media: 'audio' | 'video') =>
    loadCallUI().then(
      (ui) => ui.startCall(convId, media),
      () => alert(t('err.network')), // the chunk did not load: offline
    );
  return (
    <span class="call-start">
      <button type="button" class="back call-start-button" aria-label={ct('audioCall')} title={ct('audioCall')} disabled={busy} onClick={() => start('audio')}>
        <Icon name="phone" />
      </button>
      <button type="button" class="back call-start-button" aria-label={ct('videoCall')} title={ct('videoCall')} disabled={busy} onClick={() => start('video')}>
        <Icon name="video" />
      </button>
    </span>
  );
}
