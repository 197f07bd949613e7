// The HTTP client for the tkesj API (see shared/API.md). Every call goes through
// request(), which adds the bearer token, decodes RFC 9457 problem details into
// ApiError, and turns a 401 on an authenticated call into a "signed out" event.

import type { components } from './api-types';

/** The API's answers and frames, generated from openapi.json (npm run api-types). */
export type S = components['schemas'];

/** T with the times K that the server always sets (they are null only before they happen). */
type Happened<T, K extends keyof T> = Omit<T, K> & { [P in K]: NonNullable<T[P]> };

/** Every frame the server sends on the WebSocket; switch on its type. */
export type ServerFrame =
  | S['ReadyFrame']
  | S['MessageFrame']
  | S['RecallFrame']
  | S['ReceiptFrame']
  | S['TypingFrame']
  | S['ConversationFrame']
  | S['FriendRequestFrame']
  | S['MomentLikeFrame']
  | S['MomentCommentFrame']
  | S['AnnouncementFrame']
  | S['PolicyFrame']
  | S['NoticeFrame']
  | S['RightsRequestFrame']
  | S['SecurityFrame']
  | S['JoinRequestFrame']
  | S['TicketFrame']
  | S['PongFrame']
  | S['ErrorFrame'];

export type Gender = 'male' | 'female' | 'other' | 'unspecified';

/** The caller's own profile; staff_role only in GET /me, only for staff (it shows the staff console). */
export type User = S['User'] & { staff_role?: string };

export type Device = S['DeviceInfo'];

export interface DeviceInfo {
  id: string;
  model: string;
  os: string;
  app_version: string;
  network?: string;
}

export type Policy = S['Policy'];

export type Consent = S['Consent'];

export type Export = S['Export'];

export type CodePurpose = 'register' | 'login' | 'step_up' | 'reset' | 'change_phone';

export const PERMISSIONS = ['phone_state', 'storage', 'album', 'camera', 'location', 'microphone', 'notifications'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** An error answer from the server, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** Seconds from Retry-After, for 429. */
    readonly retryAfter?: number,
  ) {
    super(detail || code);
  }
}

const TOKEN_KEY = 'tkesj.token';
const DEVICE_KEY = 'tkesj.device';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the session lives only in memory
  }
}

let memoryToken: string | null = storage()?.getItem(TOKEN_KEY) ?? null;

export function token(): string | null {
  return memoryToken;
}

/** Drops the service worker's offline copies of API answers (sw.ts). */
function clearOfflineCache(): void {
  try {
    window.caches?.delete('tkesj-api').catch(() => {});
  } catch {
    // no Cache Storage (an insecure context): nothing was kept
  }
}

export function setToken(t: string | null): void {
  // Media fetched with one person's token must not outlive their session,
  // nor may the offline copies of their chats.
  if (t !== memoryToken) {
    clearBlobs();
    clearOfflineCache();
  }
  memoryToken = t;
  const s = storage();
  if (!s) return;
  if (t) s.setItem(TOKEN_KEY, t);
  else s.removeItem(TOKEN_KEY);
}

/** Called when an authenticated call answers 409 policy_acceptance_required. */
let onPolicyRequired: () => void = () => {};
export function setPolicyRequiredHandler(f: () => void): void {
  onPolicyRequired = f;
}

/** Called with no arguments when the server says our token is dead. */
let onSignedOut: () => void = () => {};
export function setSignedOutHandler(f: () => void): void {
  onSignedOut = f;
}

/** Picks up a token change made in another tab. */
export function watchOtherTabs(f: () => void): void {
  window.addEventListener('storage', (e) => {
    if (e.key !== TOKEN_KEY) return;
    if (e.newValue !== memoryToken) {
      clearBlobs();
      clearOfflineCache();
    }
    memoryToken = e.newValue;
    f();
  });
}

function randomId(): string {
  // crypto.randomUUID needs a secure context; getRandomValues works everywhere.
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function browserName(ua: string): string {
  const pick: [RegExp, string][] = [
    [/Edg\/(\d+)/, 'Edge'],
    [/OPR\/(\d+)/, 'Opera'],
    [/Firefox\/(\d+)/, 'Firefox'],
    [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'],
    [/Version\/(\d+)[\d.]* .*Safari/, 'Safari'],
  ];
  for (const [re, name] of pick) {
    const m = ua.match(re);
    if (m) return `${name} ${m[1]}`;
  }
  return 'Browser';
}

function osName(ua: string): string {
  if (/Android/.test(ua)) return 'Android';
  if (/iPhone|iPad|iPod/.test(ua)) return 'iOS';
  if (/Windows/.test(ua)) return 'Windows';
  if (/Mac OS X|Macintosh/.test(ua)) return 'macOS';
  if (/CrOS/.test(ua)) return 'ChromeOS';
  if (/Linux/.test(ua)) return 'Linux';
  return 'unknown';
}

/** The device record sent with every login; the id is kept for this browser. */
export function deviceInfo(): DeviceInfo {
  const s = storage();
  let id = s?.getItem(DEVICE_KEY) ?? '';
  if (!id) {
    id = 'web-' + randomId();
    s?.setItem(DEVICE_KEY, id);
  }
  const ua = navigator.userAgent;
  const d: DeviceInfo = { id, model: browserName(ua), os: osName(ua), app_version: 'web-1' };
  const conn = (navigator as Navigator & { connection?: { effectiveType?: string } }).connection;
  if (conn?.effectiveType) d.network = conn.effectiveType;
  return d;
}

/** This browser's device id, or '' before the first login. */
export function deviceId(): string {
  return storage()?.getItem(DEVICE_KEY) ?? '';
}

interface Options {
  body?: unknown;
  /** Send the token, and treat 401 as "signed out". Default true. */
  auth?: boolean;
  accept?: string;
  /**
   * Only the server's own answer will do: the service worker's offline copy
   * of a read (sw.ts, marked X-Tkesj-Offline) throws as a network failure.
   */
  live?: boolean;
}

/** Sends one call; answers the response when it is 2xx, else throws ApiError. */
async function send(method: string, path: string, opts: Options = {}): Promise<Response> {
  const auth = opts.auth ?? true;
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  const form = opts.body instanceof FormData;
  if (opts.body !== undefined && !form) headers['Content-Type'] = 'application/json';
  const sent = memoryToken;
  if (auth && sent) headers.Authorization = `Bearer ${sent}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : form ? (opts.body as FormData) : JSON.stringify(opts.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  if (res.ok) {
    if (opts.live && res.headers.has('X-Tkesj-Offline')) throw new ApiError(0, 'network', '');
    return res;
  }
  const err = await problem(res);
  // Only a token we actually sent can be dead. A wrong password (at login, or
  // re-entered to destroy the account) is also 401, with code
  // invalid_credentials: that is the form's business, not a sign-out.
  if (res.status === 401 && auth && sent && err.code !== 'invalid_credentials') {
    // A token replaced meanwhile (log out, destroy, another login) is not news.
    if (memoryToken === sent) {
      setToken(null);
      onSignedOut();
    }
  }
  if (res.status === 409 && auth && sent && err.code === 'policy_acceptance_required') onPolicyRequired();
  throw err;
}

/** One JSON call (exported for the lazily loaded staff console). */
export async function request<T>(method: string, path: string, opts: Options = {}): Promise<T> {
  const res = await send(method, path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

async function problem(res: Response): Promise<ApiError> {
  let code = '';
  let detail = '';
  try {
    const p = (await res.json()) as { code?: string; detail?: string; title?: string };
    code = p.code ?? '';
    detail = p.detail || p.title || '';
  } catch {
    // not problem JSON (a proxy error page, say): fall back to the status
  }
  let retry: number | undefined;
  const ra = res.headers.get('Retry-After');
  if (ra) {
    const n = Number(ra);
    if (Number.isFinite(n)) retry = Math.max(0, Math.ceil(n));
    else {
      const at = Date.parse(ra);
      if (!Number.isNaN(at)) retry = Math.max(0, Math.ceil((at - Date.now()) / 1000));
    }
  }
  return new ApiError(res.status, code || `http_${res.status}`, detail, retry);
}

export type AuthAnswer = S['Session'];

export interface NewAccount {
  phone: string;
  code: string;
  username: string;
  password: string;
  nickname: string;
  gender: string;
  policy_version: string;
  birth_date?: string;
}

export const api = {
  policy: () => request<Policy>('GET', '/api/v1/policy', { auth: false }),
  // A change_phone code is asked for by the signed-in person (the server needs the token).
  sendCode: (phone: string, purpose: CodePurpose) =>
    request<void>('POST', '/api/v1/verification-codes', { body: { phone, purpose }, auth: purpose === 'change_phone' }),
  register: (a: NewAccount) =>
    request<AuthAnswer>('POST', '/api/v1/accounts', { body: { ...a, device: deviceInfo() }, auth: false }),
  loginPassword: (login: string, password: string, step_up_code?: string) =>
    request<AuthAnswer>('POST', '/api/v1/sessions', { body: { login, password, ...(step_up_code ? { step_up_code } : {}), device: deviceInfo() }, auth: false }),
  loginCode: (phone: string, code: string) =>
    request<AuthAnswer>('POST', '/api/v1/sessions', { body: { phone, code, device: deviceInfo() }, auth: false }),
  logout: () => request<void>('DELETE', '/api/v1/sessions/current'),
  me: () => request<User>('GET', '/api/v1/me'),
  updateMe: (u: Partial<Pick<User, 'nickname' | 'gender' | 'username'>>) =>
    request<User>('PATCH', '/api/v1/me', { body: u }),
  devices: () => request<{ devices: Device[] }>('GET', '/api/v1/me/devices'),
  signOutDevice: (id: string) => request<void>('DELETE', `/api/v1/me/devices/${encodeURIComponent(id)}`),
  setPermission: (name: Permission, granted: boolean) =>
    request<unknown>('PUT', `/api/v1/me/permissions/${name}`, { body: { granted } }),
  consents: () => request<{ consents: Consent[] }>('GET', '/api/v1/me/consents'),
  /** Earlier exports, newest first. Not in API.md; see MyData for how a missing list is handled. */
  exports: () => request<{ exports: Export[] }>('GET', '/api/v1/me/exports'),
  requestExport: () => request<Export>('POST', '/api/v1/me/exports'),
  exportStatus: (id: string) => request<Export>('GET', `/api/v1/me/exports/${encodeURIComponent(id)}`),
  destroyAccount: (password: string) => request<void>('DELETE', '/api/v1/me', { body: { password } }),
  /** Who on the staff read my data, and why (R-SEC-1). */
  accessLog: () => request<{ entries: AccessEntry[] }>('GET', '/api/v1/me/access-log'),
  announcements: () => request<{ announcements: Announcement[] }>('GET', '/api/v1/announcements'),
  /** Web Push (R-NTF-3): the server's VAPID key, and this device's subscription. */
  pushKey: () => request<{ public_key: string }>('GET', '/api/v1/push/vapid-key', { auth: false }),
  setPushSubscription: (sub: PushSubscriptionJSON) => request<void>('PUT', '/api/v1/me/push-subscription', { body: sub }),
  deletePushSubscription: () => request<void>('DELETE', '/api/v1/me/push-subscription'),
  /** A single-use ticket that opens the WebSocket without the token in its URL. */
  wsTicket: () => request<{ ticket: string; expires_at: string }>('POST', '/api/v1/ws-tickets'),
  /** The caller's staff role; 403 for everyone else. */
  staffSelf: () => request<StaffSelf>('GET', '/api/v1/admin/me'),
};

export type AccessEntry = Happened<S['AccessLogEntry'], 'at'>;

export type Announcement = Happened<S['Announcement'], 'at'>;

export type StaffSelf = S['StaffSelf'];

/** Fetches a file that needs the bearer token and hands it back as a blob. */
export async function download(path: string): Promise<{ blob: Blob; name: string }> {
  const res = await send('GET', path, { accept: '*/*' });
  const cd = res.headers.get('Content-Disposition') ?? '';
  const m = cd.match(/filename\*=UTF-8''([^;]+)/i) ?? cd.match(/filename="?([^";]+)"?/i);
  let name = 'tkesj-export.zip';
  if (m) {
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      name = m[1];
    }
  }
  return { blob: await res.blob(), name };
}

// ---- Contacts, conversations, messages, Moments, QR (issue 6) ----

/** A person as others see them; a direct chat's peer who destroyed their account is only {id, deleted}. */
export type PublicUser = S['PublicUser'] & { deleted?: boolean };

export type FriendRequest = S['FriendRequest'];

export type MediaRef = S['Media'];

export type Location = S['Location'];

/** A quoted message as a reply carries it; `unavailable` once the original was recalled or its sender destroyed. */
export interface ReplyRef {
  seq: number;
  sender_id?: string;
  kind?: string;
  preview?: string;
  unavailable?: boolean;
}

/** One line of a merged forward ("chat history"). */
export interface HistoryItem {
  sender_name?: string;
  kind?: string;
  text?: string;
  sent_at?: string;
}

/**
 * A message, with the second-wave fields (API.md "Conversation features"):
 * a quote, mentions, forwarded, a merged history and the expiry time. They
 * are optional, so a server without them still type-checks.
 */
export type Message = Omit<S['Message'], 'kind'> & {
  kind?: S['Message']['kind'] | 'history' | 'system';
  reply_to?: ReplyRef;
  mentions?: string[];
  mention_all?: boolean;
  forwarded?: boolean;
  history?: { items?: HistoryItem[] };
  expires_at?: string;
  /** Search results: the chat and the sender, named (when the server names them). */
  conversation_name?: string;
  sender_name?: string;
  /** A system message's event (disappearing timer changed, ...). */
  system?: { event?: string; actor_id?: string; disappear_after_s?: number; [k: string]: unknown };
};

export interface Favorite {
  id: string;
  /** What was saved: a message or a Moment. */
  kind: 'message' | 'moment' | string;
  conversation_id?: string;
  seq?: number;
  moment_id?: string;
  author_id?: string;
  /** The author's nickname when it was saved. */
  author_name?: string;
  /** The message's kind (text, image, ...), or "moment". */
  content_kind?: string;
  text?: string;
  media?: { id: string; kind: string; url: string; mime?: string; size?: number }[];
  location?: Location;
  history?: { items?: HistoryItem[] };
  sent_at?: string;
  created_at?: string;
}

export type Member = S['Member'];

// pinned: the conversations list carries it once the server has pins (API.md, second wave).
// disappear_after_s: the disappearing-messages timer (0 = off); mentioned: an unread mention of the caller.
export type Conversation = Omit<S['Conversation'], 'peer' | 'last_message'> & {
  peer?: PublicUser;
  pinned?: boolean;
  disappear_after_s?: number;
  mentioned?: boolean;
  last_message?: Message;
};

export interface NewMessage {
  client_id: string;
  kind: 'text' | 'image' | 'file' | 'voice' | 'location' | 'video';
  text?: string;
  media_id?: string;
  location?: Location;
  reply_to?: number;
  mentions?: string[];
  mention_all?: boolean;
}

/** What search finds; hits are the messages with their chat and sender named (issue 15). */
export interface SearchResult {
  messages?: Message[];
  hits?: { message: Message; conversation?: { id: string; kind?: string; name?: string }; sender_name?: string }[];
  contacts?: PublicUser[];
  groups?: { id: string; kind?: string; name?: string }[];
  favorites?: Favorite[];
}

export type Comment = S['Comment'];

export type Moment = S['Moment'];

export type Visibility = { kind: 'friends' | 'only' | 'except' | 'private'; users: string[] };

/** Settings as the client holds and sends them: any part (PATCH); the server answers with all. */
export type Settings = Partial<S['Settings']>;

export type LoginQR = S['LoginQR'];

export type LoginQRRequester = S['LoginQRRequester'];

export type RightsRequest = S['RightsRequest'];

const enc = encodeURIComponent;
const C = (id: string) => `/api/v1/conversations/${enc(id)}`;

export const social = {
  searchUsers: (q: string) => request<{ users: PublicUser[] }>('GET', `/api/v1/users?q=${enc(q)}`),
  sendRequest: (to: string, greeting: string) => request<FriendRequest>('POST', '/api/v1/friend-requests', { body: { to, greeting } }),
  requests: () => request<{ requests: FriendRequest[] }>('GET', '/api/v1/friend-requests'),
  answer: (id: string, accept: boolean) => request<FriendRequest>('POST', `/api/v1/friend-requests/${enc(id)}/${accept ? 'accept' : 'decline'}`),
  contacts: () => request<{ contacts: PublicUser[] }>('GET', '/api/v1/contacts'),
  setRemark: (id: string, remark: string) => request<void>('PATCH', `/api/v1/contacts/${enc(id)}`, { body: { remark } }),
  removeContact: (id: string) => request<void>('DELETE', `/api/v1/contacts/${enc(id)}`),
  blocks: () => request<{ blocked: PublicUser[] }>('GET', '/api/v1/blocks'),
  block: (id: string, on: boolean) => request<void>(on ? 'PUT' : 'DELETE', `/api/v1/blocks/${enc(id)}`),
  settings: () => request<Settings>('GET', '/api/v1/me/settings'),
  updateSettings: (s: Settings) => request<Settings>('PATCH', '/api/v1/me/settings', { body: s }),
  search: (q: string) => request<SearchResult>('GET', `/api/v1/search?q=${enc(q)}`),
  rightsRequests: () => request<{ requests: RightsRequest[] }>('GET', '/api/v1/me/rights-requests'),
  createRightsRequest: (kind: string, details: string) => request<RightsRequest>('POST', '/api/v1/me/rights-requests', { body: { kind, details } }),
  verifyRightsRequest: (id: string, code: string) => request<RightsRequest>('POST', `/api/v1/me/rights-requests/${enc(id)}/verify`, { body: { code } }),
  acceptPolicy: (version: string) => request<void>('POST', '/api/v1/policy/accept', { body: { version } }),
};

export const chat = {
  list: () => request<{ conversations: Conversation[] }>('GET', '/api/v1/conversations'),
  get: (id: string) => request<Conversation>('GET', C(id)),
  createDirect: (peer: string) => request<Conversation>('POST', '/api/v1/conversations', { body: { kind: 'direct', members: [peer] } }),
  createGroup: (name: string, members: string[]) => request<Conversation>('POST', '/api/v1/conversations', { body: { kind: 'group', name, members } }),
  update: (id: string, u: { name?: string; announcement?: string }) => request<Conversation>('PATCH', C(id), { body: u }),
  addMembers: (id: string, members: string[]) => request<Conversation>('POST', `${C(id)}/members`, { body: { members } }),
  removeMember: (id: string, user: string) => request<void>('DELETE', `${C(id)}/members/${enc(user)}`),
  mute: (id: string, muted: boolean) => request<{ muted: boolean }>('PUT', `${C(id)}/mute`, { body: { muted } }),
  read: (id: string, seq: number) => request<void>('POST', `${C(id)}/read`, { body: { seq } }),
  send: (id: string, m: NewMessage) => request<Message>('POST', `${C(id)}/messages`, { body: m }),
  /** A page of messages; `live` refuses the service worker's offline copy (see Options). */
  messages: (id: string, q: { after_seq?: number; before_seq?: number; limit?: number }, live = false) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
    return request<{ messages: Message[] }>('GET', `${C(id)}/messages?${p}`, { live });
  },
  recall: (id: string, seq: number) => request<void>('POST', `${C(id)}/messages/${seq}/recall`),
  deleteForMe: (id: string, seq: number) => request<void>('DELETE', `${C(id)}/messages/${seq}`),
};

export const moments = {
  create: (text: string, media_ids: string[], visibility: Visibility, location?: Location) =>
    request<Moment>('POST', '/api/v1/moments', { body: { text, media_ids, visibility, ...(location ? { location } : {}) } }),
  timeline: (cursor?: string, limit = 10) =>
    request<{ moments: Moment[]; next_cursor?: string }>('GET', `/api/v1/moments/timeline?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  ofUser: (id: string, cursor?: string) =>
    request<{ moments: Moment[]; next_cursor?: string }>('GET', `/api/v1/users/${enc(id)}/moments?limit=10${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  get: (id: string) => request<Moment>('GET', `/api/v1/moments/${enc(id)}`),
  remove: (id: string) => request<void>('DELETE', `/api/v1/moments/${enc(id)}`),
  like: (id: string, on: boolean) => request<unknown>(on ? 'POST' : 'DELETE', `/api/v1/moments/${enc(id)}/likes`),
  comment: (id: string, text: string, reply_to?: string) =>
    request<Comment>('POST', `/api/v1/moments/${enc(id)}/comments`, { body: { text, ...(reply_to ? { reply_to } : {}) } }),
};

export const qr = {
  createLogin: () => request<LoginQR>('POST', '/api/v1/login-qr', { body: { device: deviceInfo() }, auth: false }),
  pollLogin: (id: string, poll: string) =>
    request<{ status: string; token?: string; user?: User }>('GET', `/api/v1/login-qr/${enc(id)}?poll_token=${enc(poll)}`, { auth: false }),
  scanLogin: (payload: string) => request<LoginQRRequester>('POST', '/api/v1/login-qr/scan', { body: { payload } }),
  answerLogin: (id: string, confirm: boolean) => request<{ id: string; status: string }>('POST', `/api/v1/login-qr/${enc(id)}/${confirm ? 'confirm' : 'deny'}`),
  myCode: () => request<{ token: string; payload: string }>('GET', '/api/v1/me/qr?format=json'),
  scan: (payload: string) => request<{ kind: string; user?: PublicUser; is_friend?: boolean }>('POST', '/api/v1/qr/scan', { body: { payload } }),
};

/** Uploads a file; `source` (album or camera) goes before the file, as the server requires. */
export function upload(file: Blob, name: string, source?: 'album' | 'camera'): Promise<MediaRef> {
  const f = new FormData();
  if (source) f.append('source', source);
  f.append('file', file, name);
  return request<MediaRef>('POST', '/api/v1/media', { body: f });
}

const blobs = new Map<string, Promise<string>>();
function clearBlobs() {
  for (const p of blobs.values()) p.then(URL.revokeObjectURL, () => {});
  blobs.clear();
}
/** A blob: URL for a file that needs the bearer token (media, avatars, QR codes); cached per path. */
export function blobURL(path: string): Promise<string> {
  let p = blobs.get(path);
  if (!p) {
    p = send('GET', path, { accept: '*/*' }).then(async (r) => URL.createObjectURL(await r.blob()));
    p.catch(() => blobs.delete(path));
    blobs.set(path, p);
  }
  return p;
}

/** A random id for client_id (idempotent retries of a send). */
export function newClientId(): string {
  return 'c' + randomId().slice(0, 24);
}
