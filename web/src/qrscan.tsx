// Scanning QR codes: with the camera (BarcodeDetector where the browser has
// it, otherwise the jsQR decoder, loaded only when needed), or from a picture
// of a code the person uploads. Camera access is recorded in the consent
// ledger (PUT /me/permissions/camera) when the browser grants or refuses it.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { t } from './i18n';

type Source = CanvasImageSource & { width?: number; height?: number; videoWidth?: number; videoHeight?: number };
type Decoder = (src: Source) => Promise<string | null>;

interface Detector {
  detect(src: CanvasImageSource): Promise<{ rawValue: string }[]>;
}
interface DetectorCtor {
  new (o: { formats: string[] }): Detector;
  getSupportedFormats?: () => Promise<string[]>;
}

let decoder: Promise<Decoder> | null = null;

/** The best decoder this browser offers, made once. */
function getDecoder(): Promise<Decoder> {
  decoder ??= (async () => {
    const BD = (window as unknown as { BarcodeDetector?: DetectorCtor }).BarcodeDetector;
    const formats: string[] = (await BD?.getSupportedFormats?.().catch(() => [] as string[])) ?? [];
    if (BD && formats.includes('qr_code')) {
      const d = new BD({ formats: ['qr_code'] });
      return async (src) => (await d.detect(src))[0]?.rawValue ?? null;
    }
    const jsQR = (await import('jsqr')).default;
    const canvas = document.createElement('canvas');
    const g = canvas.getContext('2d', { willReadFrequently: true })!;
    return async (src) => {
      const w = src.videoWidth || src.width || 0;
      const h = src.videoHeight || src.height || 0;
      if (!w || !h) return null;
      // Large pictures are scaled down: codes stay readable, decoding stays fast.
      const k = Math.min(1, 1024 / Math.max(w, h));
      canvas.width = Math.round(w * k);
      canvas.height = Math.round(h * k);
      g.drawImage(src, 0, 0, canvas.width, canvas.height);
      const img = g.getImageData(0, 0, canvas.width, canvas.height);
      return jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' })?.data ?? null;
    };
  })();
  decoder.catch(() => (decoder = null));
  return decoder;
}

/** Camera and picture scanning; calls onResult with the code's text. */
export function QRScanner({ onResult, idPrefix }: { onResult: (text: string) => void; idPrefix: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  function stop(s = stream) {
    s?.getTracks().forEach((tr) => tr.stop());
    setStream(null);
  }
  // The camera goes off when the stream is replaced or the screen is left.
  useEffect(() => () => stream?.getTracks().forEach((tr) => tr.stop()), [stream]);

  // While the camera runs, look at a few frames a second.
  useEffect(() => {
    if (!stream || !video.current) return;
    const v = video.current;
    v.srcObject = stream;
    v.play().catch(() => {});
    let alive = true;
    let timer = 0;
    const tick = async () => {
      if (!alive) return;
      try {
        const d = await getDecoder();
        const text = v.readyState >= 2 ? await d(v) : null;
        if (text && alive) {
          alive = false;
          stop(stream);
          onResult(text);
          return;
        }
      } catch {
        // a frame that fails to decode: try the next
      }
      timer = window.setTimeout(tick, 200);
    };
    tick();
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [stream]);

  async function camera() {
    setError('');
    if (!navigator.mediaDevices?.getUserMedia) {
      setError(t('scan.noCamera'));
      return;
    }
    setBusy(true);
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      api.setPermission('camera', true).catch(() => {});
      getDecoder().catch(() => {}); // fetch the decoder while the camera starts
      setStream(s);
    } catch (e) {
      const denied = e instanceof DOMException && (e.name === 'NotAllowedError' || e.name === 'SecurityError');
      if (denied) api.setPermission('camera', false).catch(() => {});
      setError(t(denied ? 'scan.cameraDenied' : 'scan.noCamera'));
    } finally {
      setBusy(false);
    }
  }

  async function picture(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    setError('');
    setBusy(true);
    try {
      const bmp = await createImageBitmap(file);
      const text = await (await getDecoder())(bmp);
      bmp.close();
      if (text) onResult(text);
      else setError(t('scan.noCode'));
    } catch {
      setError(t('scan.noCode'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="qr-scanner">
      {stream ? (
        <>
          <video ref={video} class="qr-video" muted playsInline aria-label={t('scan.viewfinder')} />
          <button type="button" class="secondary" onClick={() => stop()}>
            {t('scan.stop')}
          </button>
        </>
      ) : (
        <button type="button" class="secondary" onClick={camera} disabled={busy}>
          {t('scan.camera')}
        </button>
      )}
      <input id={`${idPrefix}-qr-file`} class="sr-only" type="file" accept="image/*" onChange={picture} disabled={busy} />
      <label class="file-button secondary" for={`${idPrefix}-qr-file`}>
        {t('scan.picture')}
      </label>
      <p class={error ? 'notice notice-error' : 'notice-empty'} role="alert">
        {error}
      </p>
    </div>
  );
}
