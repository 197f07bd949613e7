// The words of calls (English and Simplified Chinese) and the call record's
// line in a chat. Split from call.tsx so the chat chunk can name a call
// record without loading the call screens and their engine, which load only
// when a call rings or starts (call-ring.tsx).

import type { Message } from './api';
import { lang } from './i18n';

// ------------------------------------------------------------------ strings

const STRINGS = {
  en: {
    audioCall: 'Voice call',
    videoCall: 'Video call',
    incomingAudio: 'Incoming voice call',
    incomingVideo: 'Incoming video call',
    incomingGroup: 'Group call',
    accept: 'Accept',
    decline: 'Decline',
    hangUp: 'Hang up',
    calling: 'Calling…',
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    mute: 'Mute',
    unmute: 'Unmute',
    cameraOff: 'Turn camera off',
    cameraOn: 'Turn camera on',
    you: 'You',
    speaking: 'speaking',
    muted: 'muted',
    ended: 'Call ended',
    'outcome.completed': 'Call ended · {d}',
    'outcome.missed': 'No answer',
    'outcome.declined': 'Call declined',
    'outcome.cancelled': 'Call cancelled',
    busy: 'Busy: they are in another call',
    revoked: 'The call ended because the microphone or camera permission was withdrawn.',
    needPermission: 'Calls need the microphone permission (and the camera for video). Grant it in Me › Privacy › Permissions.',
    noDevice: 'Your microphone or camera could not be opened.',
    failed: 'The call could not be started.',
    'record.completed': '{media} · {d}',
    'record.missed': 'Missed {media}',
    'record.busy': '{media} · busy',
    'record.declined': '{media} declined',
    'record.cancelled': '{media} cancelled',
    'media.audio': 'Voice call',
    'media.video': 'Video call',
    selfView: 'Your camera',
    inCall: 'In call with {names}',
  },
  zh: {
    audioCall: '语音通话',
    videoCall: '视频通话',
    incomingAudio: '语音通话来电',
    incomingVideo: '视频通话来电',
    incomingGroup: '群通话',
    accept: '接听',
    decline: '拒绝',
    hangUp: '挂断',
    calling: '正在呼叫…',
    connecting: '正在连接…',
    reconnecting: '正在重新连接…',
    mute: '静音',
    unmute: '取消静音',
    cameraOff: '关闭摄像头',
    cameraOn: '打开摄像头',
    you: '我',
    speaking: '正在说话',
    muted: '已静音',
    ended: '通话已结束',
    'outcome.completed': '通话结束 · {d}',
    'outcome.missed': '无人接听',
    'outcome.declined': '对方已拒绝',
    'outcome.cancelled': '通话已取消',
    busy: '对方正在通话中',
    revoked: '麦克风或摄像头权限已撤回，通话已结束。',
    needPermission: '通话需要麦克风权限（视频通话还需摄像头权限）。请在“我 › 隐私 › 权限”中开启。',
    noDevice: '无法打开麦克风或摄像头。',
    failed: '无法发起通话。',
    'record.completed': '{media} · {d}',
    'record.missed': '未接{media}',
    'record.busy': '{media} · 对方忙',
    'record.declined': '{media}已拒绝',
    'record.cancelled': '{media}已取消',
    'media.audio': '语音通话',
    'media.video': '视频通话',
    selfView: '我的摄像头',
    inCall: '与 {names} 通话中',
  },
};
export type SKey = keyof typeof STRINGS.en;

export function ct(key: SKey, params?: Record<string, string | number>): string {
  let s = (STRINGS[lang()] ?? STRINGS.en)[key] ?? STRINGS.en[key];
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export function formatDuration(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

/** A call record message, as the chat shows it. */
export function callRecordText(m: Message): string {
  const call = (m as Message & { call?: { media: string; state: string; duration_s: number; reason?: string } }).call;
  if (!call) return ct('ended');
  const media = ct(call.media === 'video' ? 'media.video' : 'media.audio');
  if (call.reason === 'busy') return ct('record.busy', { media });
  if (call.state === 'completed') return ct('record.completed', { media, d: formatDuration(call.duration_s ?? 0) });
  return ct(`record.${call.state}` as SKey, { media });
}
