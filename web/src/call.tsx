// Voice and video calls (R-CAL-1..3): the incoming-call screen with its
// ringtone, the call screen (a grid of the others, a picture-in-picture self
// view, mute, camera and hang-up), and the engine under them.
//
// One-to-one calls connect browser to browser: the caller offers once the
// callee answered; both trickle ICE candidates through the server's
// "call_signal" frames and, after a network change, the caller restarts ICE.
// Group calls connect each person to the server's forwarding unit ("sfu"),
// which is always the offerer: we say hello, answer its offers, and send our
// microphone and camera on the first audio and video slots it offers.
//
// The call's state comes only from the server's "call" frames; this tab is
// in a call only once its own join (or start) succeeded, so the person's
// other devices stop ringing when one answers.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, request } from './api';
import { ct, formatDuration, type SKey } from './call-text';
import { takeCallFrames } from './call-ring';
import { sendFrame } from './realtime';
import './call.css';

// -------------------------------------------------------------------- types

export interface CallJSON {
  id: string;
  conversation_id: string;
  media: 'audio' | 'video';
  state: 'ringing' | 'active' | 'ended';
  initiator_id: string;
  group: boolean;
  members: string[];
  participants: { user_id: string; muted: boolean; camera_off: boolean }[];
  declined: string[];
  outcome?: string;
  duration_s?: number;
  reason?: string;
}

interface Joined {
  call: CallJSON;
  ice_servers: RTCIceServer[];
}

type Phase = 'idle' | 'incoming' | 'outgoing' | 'connecting' | 'active' | 'reconnecting' | 'ended';

type Signal = { type: string; sdp?: string; candidate?: RTCIceCandidateInit; restart?: boolean; n?: number };

// ------------------------------------------------------------------- engine

class CallEngine {
  me = '';
  call: CallJSON | null = null;
  phase: Phase = 'idle';
  notice = '';
  local: MediaStream | null = null;
  remotes = new Map<string, MediaStream>();
  speaking = new Set<string>();
  names = new Map<string, string>();
  title = '';
  muted = false;
  cameraOff = false;
  answeredAt = 0;

  private pc: RTCPeerConnection | null = null;
  private ready: Promise<void> | null = null;
  private early: { from: string; signal: Signal }[] = [];
  private candidates: RTCIceCandidateInit[] = [];
  private sendSlotsTaken = false;
  private receivers = new Map<RTCRtpReceiver, string>();
  private timers: number[] = [];
  private listeners = new Set<() => void>();
  private ring: { ctx: AudioContext; stop: () => void } | null = null;
  private offered = false;

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
  private changed() {
    this.listeners.forEach((f) => f());
  }

  get peerId(): string {
    const c = this.call;
    if (!c) return '';
    return c.members.find((m) => m !== this.me) ?? '';
  }

  // ---------------------------------------------------------- frames

  onFrame(f: { type: string; [k: string]: any }) {
    if (f.type === 'call') this.onCall(f.call as CallJSON);
    else if (f.type === 'ready') for (const c of (f.calls ?? []) as CallJSON[]) this.onCall(c);
    else if (f.type === 'call_signal' && this.call && f.call_id === this.call.id) this.onSignal(String(f.from), f.signal as Signal);
  }

  private onCall(c: CallJSON) {
    if (!c || !this.me) return;
    const mine = this.call && this.call.id === c.id;
    const inIt = c.participants.some((p) => p.user_id === this.me);
    if (!mine) {
      // A new call rings here only when this tab is free (the last call's
      // "ended" notice gives way to it).
      const free = this.phase === 'idle' || this.phase === 'ended';
      if (free && c.state === 'ringing' && c.initiator_id !== this.me && !inIt) {
        this.call = c;
        this.notice = '';
        this.phase = 'incoming';
        sendFrame({ type: 'call_ringing', call_id: c.id });
        this.loadNames(c);
        this.startRingtone();
        this.changed();
      }
      return;
    }
    this.call = c;
    if (c.state === 'ended') {
      const revoked = c.reason === 'permission_revoked';
      this.finish(revoked ? ct('revoked') : this.outcomeText(c));
      return;
    }
    if (this.phase === 'incoming') {
      // Answered on another of my devices, or declined there.
      if (inIt || c.declined.includes(this.me)) this.reset();
      else this.changed();
      return;
    }
    if (!inIt && this.phase !== 'idle' && this.phase !== 'ended') {
      // Taken out of a call that goes on (a withdrawn permission).
      this.finish(ct('revoked'));
      return;
    }
    if (!c.group && c.state === 'active' && c.initiator_id === this.me && !this.offered) {
      this.offered = true;
      this.phase = 'connecting';
      this.offer(false);
    }
    if (c.group) this.capBitrates();
    this.changed();
  }

  private outcomeText(c: CallJSON): string {
    if (c.reason === 'busy') return ct('busy');
    if (c.outcome === 'completed') return ct('outcome.completed', { d: formatDuration(c.duration_s ?? 0) });
    return ct(`outcome.${c.outcome}` as SKey) || ct('ended');
  }

  // ------------------------------------------------------- actions

  async start(convId: string, media: 'audio' | 'video') {
    if (this.phase !== 'idle' && this.phase !== 'ended') return;
    this.notice = '';
    let j: Joined;
    try {
      j = await request<Joined>('POST', '/api/v1/calls', { body: { conversation_id: convId, media } });
    } catch (e) {
      this.fail(e);
      return;
    }
    this.call = j.call;
    this.loadNames(j.call);
    if (j.call.state === 'ended') {
      this.finish(this.outcomeText(j.call));
      return;
    }
    this.phase = 'outgoing';
    this.changed();
    await this.prepare(j.ice_servers);
  }

  async accept() {
    const c = this.call;
    if (!c || this.phase !== 'incoming') return;
    this.stopRingtone();
    let j: Joined;
    try {
      j = await request<Joined>('POST', `/api/v1/calls/${encodeURIComponent(c.id)}/join`);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.call = j.call;
    this.phase = 'connecting';
    this.changed();
    await this.prepare(j.ice_servers);
  }

  async decline() {
    const c = this.call;
    this.reset();
    if (c) await request('POST', `/api/v1/calls/${encodeURIComponent(c.id)}/decline`).catch(() => {});
  }

  async hangUp() {
    const c = this.call;
    this.finish(ct('ended'));
    if (c) await request('POST', `/api/v1/calls/${encodeURIComponent(c.id)}/leave`).catch(() => {});
  }

  toggleMute() {
    this.muted = !this.muted;
    this.local?.getAudioTracks().forEach((t) => (t.enabled = !this.muted));
    this.tellMedia();
  }

  toggleCamera() {
    this.cameraOff = !this.cameraOff;
    this.local?.getVideoTracks().forEach((t) => (t.enabled = !this.cameraOff));
    this.tellMedia();
  }

  private tellMedia() {
    this.changed();
    const c = this.call;
    if (c) request('PUT', `/api/v1/calls/${encodeURIComponent(c.id)}/media`, { body: { muted: this.muted, camera_off: this.cameraOff } }).catch(() => {});
  }

  private fail(e: unknown) {
    const code = e instanceof ApiError ? e.code : '';
    this.finish(code === 'permission_revoked' ? ct('needPermission') : e instanceof ApiError && e.detail ? e.detail : ct('failed'));
  }

  // ------------------------------------------------------ connection

  /** Opens the devices and the peer connection; signals that came early are handled after. */
  private prepare(ice: RTCIceServer[]) {
    this.ready = (async () => {
      const c = this.call!;
      try {
        this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: c.media === 'video' });
      } catch {
        await this.hangUp();
        this.notice = ct('noDevice');
        this.changed();
        throw new Error('no device');
      }
      const policy = (localStorage.getItem('tkesj.iceTransportPolicy') as RTCIceTransportPolicy | null) ?? 'all';
      const pc = new RTCPeerConnection({ iceServers: ice, iceTransportPolicy: policy });
      this.pc = pc;
      // Signals that came before the connection, first, then the rest in
      // order (onSignal); the handlers below are set before any runs.
      const early = this.early;
      this.early = [];
      this.queue = this.queue
        .then(async () => {
          for (const s of early) await this.handle(s.from, s.signal);
        })
        .catch((e) => console.warn('call signal', e));
      pc.onicecandidate = (e) => {
        if (e.candidate) this.signal({ type: 'candidate', candidate: e.candidate.toJSON() });
      };
      pc.ontrack = (e) => {
        // The browser keeps each sender's stream (msid) up to date as
        // tracks come and go; a group call's stream id is the sender's user id.
        const uid = c.group ? e.streams[0]?.id ?? '' : this.peerId;
        this.remotes.set(uid, e.streams[0] ?? new MediaStream([e.track]));
        this.receivers.set(e.receiver, uid);
        this.changed();
      };
      pc.oniceconnectionstatechange = () => this.onIceState();
      if (!c.group) for (const t of this.local.getTracks()) pc.addTrack(t, this.local);
      this.timers.push(window.setInterval(() => this.measureSpeaking(), 400));
      const online = () => this.restart();
      window.addEventListener('online', online);
      this.timers.push(-1);
      this.cleanupOnline = () => window.removeEventListener('online', online);
      if (c.group) this.signal({ type: 'hello' });
      this.changed();
    })();
    return this.ready.catch(() => {});
  }
  private cleanupOnline = () => {};

  private onIceState() {
    const pc = this.pc;
    if (!pc) return;
    const st = pc.iceConnectionState;
    if (st === 'connected' || st === 'completed') {
      if (this.phase !== 'active') {
        this.phase = 'active';
        this.answeredAt ||= Date.now();
        this.changed();
      }
    } else if (st === 'failed') {
      this.restart();
    } else if (st === 'disconnected') {
      this.phase = 'reconnecting';
      this.changed();
      window.setTimeout(() => this.pc === pc && pc.iceConnectionState === 'disconnected' && this.restart(), 3000);
    }
  }

  /** ICE restart after a network change: the offerer offers again. */
  restart() {
    const c = this.call;
    if (!c || !this.pc) return;
    if (c.group) this.signal({ type: 'hello', restart: true });
    else if (c.initiator_id === this.me) this.offer(true);
    else this.signal({ type: 'restart' });
  }

  private async offer(restart: boolean) {
    await this.ready?.catch(() => {});
    const pc = this.pc;
    if (!pc) return;
    const o = await pc.createOffer({ iceRestart: restart });
    await pc.setLocalDescription(o);
    this.signal({ type: 'offer', sdp: o.sdp });
  }

  private signal(s: Signal) {
    const c = this.call;
    if (!c) return;
    sendFrame({ type: 'call_signal', call_id: c.id, to: c.group ? 'sfu' : this.peerId, signal: s });
  }

  private onSignal(from: string, s: Signal) {
    if (!this.pc) {
      if (this.early.length < 200) this.early.push({ from, signal: s });
      return;
    }
    // One at a time, in arrival order: an offer's answer must be set before
    // the next offer (or a candidate for it) is looked at.
    this.queue = this.queue.then(() => this.handle(from, s)).catch((e) => console.warn('call signal', e));
  }
  private queue: Promise<void> = Promise.resolve();

  private async handle(_from: string, s: Signal) {
    const pc = this.pc;
    if (!pc || !s) return;
    switch (s.type) {
      case 'offer': {
        await pc.setRemoteDescription({ type: 'offer', sdp: s.sdp });
        if (this.call?.group && !this.sendSlotsTaken && this.local) {
          // The SFU's first offer holds one receive slot per medium: send on them.
          this.sendSlotsTaken = true;
          for (const kind of ['audio', 'video']) {
            const track = this.local.getTracks().find((t) => t.kind === kind);
            const tr = pc.getTransceivers().find((x) => x.receiver.track.kind === kind);
            if (track && tr) {
              tr.direction = 'sendonly';
              await tr.sender.replaceTrack(track);
            }
          }
          this.capBitrates();
        }
        const a = await pc.createAnswer();
        await pc.setLocalDescription(a);
        // n names the SFU's offer this answers (an ICE restart may replace it).
        this.signal(s.n ? { type: 'answer', sdp: a.sdp, n: s.n } : { type: 'answer', sdp: a.sdp });
        await this.flushCandidates();
        break;
      }
      case 'answer':
        await pc.setRemoteDescription({ type: 'answer', sdp: s.sdp });
        await this.flushCandidates();
        break;
      case 'candidate':
        if (!s.candidate) return;
        if (pc.remoteDescription) await pc.addIceCandidate(s.candidate).catch(() => {});
        else if (this.candidates.length < 200) this.candidates.push(s.candidate);
        break;
      case 'restart':
        if (this.call?.initiator_id === this.me) await this.offer(true);
        break;
    }
  }

  private async flushCandidates() {
    const pc = this.pc;
    const list = this.candidates;
    this.candidates = [];
    for (const c of list) await pc?.addIceCandidate(c).catch(() => {});
  }

  /** Each receiver's video budget shared by the senders: 2.5 Mbit/s ÷ (people − 1). */
  private capBitrates() {
    const c = this.call;
    const pc = this.pc;
    if (!c || !pc || !c.group) return;
    const n = Math.max(2, c.participants.length);
    const cap = Math.min(1_500_000, Math.max(150_000, Math.round(2_500_000 / (n - 1))));
    for (const s of pc.getSenders()) {
      if (s.track?.kind !== 'video') continue;
      const p = s.getParameters();
      if (!p.encodings || !p.encodings.length) continue;
      p.encodings[0].maxBitrate = cap;
      s.setParameters(p).catch(() => {});
    }
  }

  private measureSpeaking() {
    const next = new Set<string>();
    for (const [r, uid] of this.receivers) {
      if (r.track.kind !== 'audio') continue;
      const src = r.getSynchronizationSources?.()[0];
      if (src && (src.audioLevel ?? 0) > 0.03 && performance.now() + performance.timeOrigin - src.timestamp < 1000) next.add(uid);
    }
    const same = next.size === this.speaking.size && [...next].every((u) => this.speaking.has(u));
    if (!same) {
      this.speaking = next;
      this.changed();
    }
  }

  /** Bytes received per medium (for the browser tests and diagnostics). */
  async inbound(): Promise<{ audio: number; video: number; relay: boolean; peers: number }> {
    const out = { audio: 0, video: 0, relay: false, peers: this.remotes.size };
    const pc = this.pc;
    if (!pc) return out;
    const stats = await pc.getStats();
    const local = new Map<string, string>();
    stats.forEach((r: any) => {
      if (r.type === 'inbound-rtp' && (r.kind === 'audio' || r.kind === 'video')) out[r.kind as 'audio' | 'video'] += r.bytesReceived ?? 0;
      if (r.type === 'local-candidate') local.set(r.id, r.candidateType);
    });
    // The pair the transport selected (the controlled side may not see its
    // pair marked nominated yet while media already flows on it); without
    // that field, a nominated pair that succeeded.
    const selected = new Set<string>();
    stats.forEach((r: any) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) selected.add(r.selectedCandidatePairId);
    });
    stats.forEach((r: any) => {
      if (r.type !== 'candidate-pair' || local.get(r.localCandidateId) !== 'relay') return;
      if (selected.size ? selected.has(r.id) : r.state === 'succeeded' && r.nominated) out.relay = true;
    });
    return out;
  }

  /** Bytes received from each other participant, per medium. */
  async inboundByPeer(): Promise<Record<string, { audio: number; video: number }>> {
    const out: Record<string, { audio: number; video: number }> = {};
    for (const [r, uid] of this.receivers) {
      const o = (out[uid] ??= { audio: 0, video: 0 });
      const stats = await r.getStats();
      stats.forEach((s: any) => {
        if (s.type === 'inbound-rtp') o[r.track.kind as 'audio' | 'video'] += s.bytesReceived ?? 0;
      });
    }
    return out;
  }

  // ---------------------------------------------------------- names

  private async loadNames(c: CallJSON) {
    try {
      const cv = await request<{ kind: string; name?: string; members?: { id: string; nickname?: string; remark?: string }[] }>(
        'GET',
        `/api/v1/conversations/${encodeURIComponent(c.conversation_id)}`,
      );
      for (const m of cv.members ?? []) this.names.set(m.id, m.remark || m.nickname || m.id);
      this.title = cv.kind === 'group' ? cv.name || ct('incomingGroup') : this.names.get(c.members.find((m) => m !== this.me) ?? '') ?? '';
      this.changed();
    } catch {
      // names are a nicety; the call works without them
    }
  }

  name(uid: string): string {
    return uid === this.me ? ct('you') : this.names.get(uid) ?? '…';
  }

  // -------------------------------------------------------- ringtone

  private startRingtone() {
    try {
      const ctx = new AudioContext();
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const f of [440, 480]) {
        const o = ctx.createOscillator();
        o.frequency.value = f;
        o.connect(gain);
        o.start();
      }
      // Two seconds on, four off, like a phone.
      const beat = () => {
        const t = ctx.currentTime;
        gain.gain.setValueAtTime(0.15, t);
        gain.gain.setValueAtTime(0, t + 2);
      };
      beat();
      const id = window.setInterval(beat, 6000);
      this.ring = { ctx, stop: () => (window.clearInterval(id), ctx.close().catch(() => {})) };
    } catch {
      this.ring = null;
    }
  }

  private stopRingtone() {
    this.ring?.stop();
    this.ring = null;
  }

  // --------------------------------------------------------- cleanup

  private teardown() {
    this.stopRingtone();
    for (const id of this.timers) if (id >= 0) window.clearInterval(id);
    this.timers = [];
    this.cleanupOnline();
    this.cleanupOnline = () => {};
    this.pc?.close();
    this.pc = null;
    this.local?.getTracks().forEach((t) => t.stop());
    this.local = null;
    this.remotes.clear();
    this.receivers.clear();
    this.speaking.clear();
    this.early = [];
    this.queue = Promise.resolve();
    this.candidates = [];
    this.sendSlotsTaken = false;
    this.offered = false;
    this.ready = null;
    this.muted = this.cameraOff = false;
    this.answeredAt = 0;
  }

  private finish(notice: string) {
    this.teardown();
    this.phase = 'ended';
    this.notice = notice;
    this.changed();
    const call = this.call;
    window.setTimeout(() => {
      if (this.phase === 'ended' && this.call === call) this.reset();
    }, 6000);
  }

  reset() {
    this.teardown();
    this.call = null;
    this.phase = 'idle';
    this.notice = '';
    this.title = '';
    this.changed();
  }
}

export const engine = new CallEngine();

declare global {
  interface Window {
    __tkesjCall?: CallEngine;
  }
}
window.__tkesjCall = engine;

/** Starts a call in a conversation (the chat screen's buttons). */
export function startCall(convId: string, media: 'audio' | 'video') {
  return engine.start(convId, media);
}

// ----------------------------------------------------------------------- UI

function useEngine() {
  const [, force] = useState(0);
  useEffect(() => {
    const off = engine.subscribe(() => force((n) => n + 1));
    // The engine may have changed between the render and this effect (a
    // call started as this chunk loaded, refused at once): render it again.
    force((n) => n + 1);
    return off;
  }, []);
  return engine;
}

function VideoOf({ stream, muted, label, cls }: { stream: MediaStream; muted?: boolean; label: string; cls?: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream;
  });
  return <video ref={ref} class={cls} autoplay playsInline muted={muted} aria-label={label} />;
}

function AudioOf({ stream }: { stream: MediaStream }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream;
  });
  return <audio ref={ref} autoplay />;
}

function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(id);
  }, []);
  return <span class="call-elapsed">{formatDuration(Math.max(0, Math.floor((now - since) / 1000)))}</span>;
}

function RoundButton(p: { label: string; cls: string; onClick: () => void; pressed?: boolean; children?: ComponentChildren }) {
  return (
    <button type="button" class={`call-button ${p.cls}`} onClick={p.onClick} aria-pressed={p.pressed} aria-label={p.label} title={p.label}>
      <span aria-hidden="true">{p.children}</span>
      <span class="call-button-label">{p.label}</span>
    </button>
  );
}

/** The call screens, over whatever screen is open. Mounted once by the app shell (CallHost in call-ring.tsx). */
export function CallLayer({ me }: { me: string }) {
  const e = useEngine();
  useEffect(() => {
    e.me = me;
    // The frames kept while this chunk loaded first (a call that rang
    // before it was in), then each as it comes.
    const off = takeCallFrames((f) => e.onFrame(f));
    return () => {
      off();
      e.reset();
    };
  }, [me]);
  const c = e.call;
  if (e.phase === 'ended') {
    return (
      <div class="call-toast" role="status" data-call-id={c?.id}>
        {e.notice || ct('ended')}
      </div>
    );
  }
  if (e.phase === 'idle' || !c) return null;

  if (e.phase === 'incoming') {
    const kind = c.group ? ct('incomingGroup') : c.media === 'video' ? ct('incomingVideo') : ct('incomingAudio');
    return (
      <div class="call-screen call-incoming" role="dialog" aria-modal="true" aria-label={kind} data-call-id={c.id}>
        <div class="call-who">
          <div class="call-avatar" aria-hidden="true">
            {(e.title || '…').slice(0, 1)}
          </div>
          <h2>{e.title || e.name(c.initiator_id)}</h2>
          <p class="call-status">{kind}</p>
        </div>
        <div class="call-controls">
          <RoundButton label={ct('decline')} cls="call-decline" onClick={() => e.decline()}>
            ✕
          </RoundButton>
          <RoundButton label={ct('accept')} cls="call-accept" onClick={() => e.accept()}>
            ✓
          </RoundButton>
        </div>
      </div>
    );
  }

  const others = c.participants.filter((p) => p.user_id !== me);
  const status =
    e.phase === 'outgoing' ? ct('calling') : e.phase === 'connecting' ? ct('connecting') : e.phase === 'reconnecting' ? ct('reconnecting') : '';
  const video = c.media === 'video';
  const tiles = others.length ? others : [{ user_id: c.members.find((m) => m !== me) ?? '', muted: false, camera_off: false }];
  return (
    <div
      class={`call-screen call-active ${video ? 'call-video' : 'call-audio'}`}
      role="dialog"
      aria-modal="true"
      aria-label={ct('inCall', { names: tiles.map((p) => e.name(p.user_id)).join(', ') })}
      data-call-id={c.id}
      data-phase={e.phase}
    >
      <div class="call-top">
        <span class="call-title">{e.title}</span>
        <span class="call-status" role="status">
          {status || (e.answeredAt ? <Elapsed since={e.answeredAt} /> : '')}
        </span>
      </div>
      <div class={`call-grid call-grid-${Math.min(tiles.length, 9)}`}>
        {tiles.map((p) => {
          const s = e.remotes.get(p.user_id);
          const speaking = e.speaking.has(p.user_id);
          const showVideo = video && s && s.getVideoTracks().length > 0 && !p.camera_off;
          return (
            <div class={`call-tile${speaking ? ' call-speaking' : ''}`} key={p.user_id} data-user-id={p.user_id}>
              {showVideo ? <VideoOf stream={s!} muted label={e.name(p.user_id)} cls="call-remote" /> : (
                <div class="call-avatar" aria-hidden="true">
                  {e.name(p.user_id).slice(0, 1)}
                </div>
              )}
              {s && <AudioOf stream={s} />}
              <span class="call-name">
                {e.name(p.user_id)}
                {p.muted ? ` · ${ct('muted')}` : ''}
                {speaking ? <span class="sr-only"> · {ct('speaking')}</span> : ''}
              </span>
            </div>
          );
        })}
      </div>
      {video && e.local && !e.cameraOff && <VideoOf stream={e.local} muted label={ct('selfView')} cls="call-self" />}
      <div class="call-controls">
        <RoundButton label={e.muted ? ct('unmute') : ct('mute')} cls="call-toggle" pressed={e.muted} onClick={() => e.toggleMute()}>
          {e.muted ? '🔇' : '🎤'}
        </RoundButton>
        {video && (
          <RoundButton label={e.cameraOff ? ct('cameraOn') : ct('cameraOff')} cls="call-toggle" pressed={e.cameraOff} onClick={() => e.toggleCamera()}>
            {e.cameraOff ? '🚫' : '📷'}
          </RoundButton>
        )}
        <RoundButton label={ct('hangUp')} cls="call-decline" onClick={() => e.hangUp()}>
          ✕
        </RoundButton>
      </div>
    </div>
  );
}
