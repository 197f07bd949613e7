// The part of calls that is always loaded: it listens for call frames from
// the socket's first frame on (the calls the "ready" frame announces too),
// loads the call screens and their engine (call.tsx, a chunk of their own,
// kept out of the first load) when a call rings here or the person starts
// one, and keeps the frames that come meanwhile. Once the call screens are
// up they take the kept frames, in order, then each frame as it comes, so an
// incoming call rings exactly as if the chunk had been there from the start.

import { useEffect, useState } from 'preact/hooks';
import { onFrame, type Frame } from './realtime';

type CallUI = typeof import('./call');

/** Frames kept while the call screens load; a ringing call never has nearly this many. */
const MAX_KEPT = 200;

let me = '';
let kept: Frame[] = [];
let sink: ((f: Frame) => void) | null = null;
let ui: CallUI | null = null;
let loading: Promise<CallUI> | null = null;
let asked = false;
const loadListeners = new Set<() => void>();

/** Loads the call screens once; a failed load is tried again on the next call. */
export function loadCallUI(): Promise<CallUI> {
  asked = true;
  loading ??= import('./call').then(
    (m) => {
      ui = m;
      loadListeners.forEach((f) => f());
      return m;
    },
    (e) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}

function isCallFrame(f: Frame): boolean {
  return f.type === 'call' || f.type === 'call_signal' || (f.type === 'ready' && Array.isArray(f.calls) && f.calls.length > 0);
}

/** Whether the frame names a call that rings for this person (one they did not start). */
function rings(f: Frame): boolean {
  const calls: unknown[] = f.type === 'call' ? [f.call] : f.type === 'ready' ? f.calls : [];
  return calls.some((c) => {
    const call = c as { state?: string; initiator_id?: string } | null;
    return !!call && call.state === 'ringing' && call.initiator_id !== me;
  });
}

/**
 * Listens for a signed-in person's call frames until the answered function
 * is called. Until the call screens take over (takeCallFrames), a frame
 * that rings starts loading them, and every call frame from then on is
 * kept. Before that nothing is kept: the call engine, idle, would ignore
 * anything but a ringing call.
 */
export function watchCalls(user: string): () => void {
  me = user;
  kept = [];
  const off = onFrame((f) => {
    if (!isCallFrame(f)) return;
    if (sink) {
      sink(f);
      return;
    }
    if (rings(f))
      loadCallUI().catch(() => {
        // offline: the kept frames wait for the next call frame, which tries again
      });
    else if (kept.length && !loading) loadCallUI().catch(() => {});
    if (asked && kept.length < MAX_KEPT) kept.push(f);
  });
  return () => {
    off();
    kept = [];
    me = '';
  };
}

/**
 * The call screens take the frames: those kept while they loaded, in order,
 * then each as it comes, until the answered function is called.
 */
export function takeCallFrames(f: (fr: Frame) => void): () => void {
  sink = f;
  const k = kept;
  kept = [];
  for (const fr of k) {
    try {
      f(fr);
    } catch (e) {
      console.warn('call frame', e);
    }
  }
  return () => {
    if (sink === f) sink = null;
  };
}

/** The call screens' module once loaded (null before); re-renders when it arrives. */
export function useCallUI(): CallUI | null {
  const [m, setM] = useState(ui);
  useEffect(() => {
    const f = () => setM(ui);
    loadListeners.add(f);
    f(); // loaded between the render and this effect
    return () => {
      loadListeners.delete(f);
    };
  }, []);
  return m;
}

/** Where the call screens show, over whatever screen is open, once they are loaded. */
export function CallHost({ me }: { me: string }) {
  const m = useCallUI();
  return m ? <m.CallLayer me={me} /> : null;
}
