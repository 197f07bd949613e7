// The HTTP client for the tkesj API (see shared/API.md). Every call goes through
// request(), which adds the bearer token, decodes RFC 9457 problem details into
// ApiError, and turns a 401 on an authenticated call into a "signed out" event.

export type Gender = 'male' | 'female' | 'other' | 'unspecified';

export interface User {
  id: string;
  username: string;
  nickname: string;
  gender: Gender | string;
  avatar_url?: string;
  phone?: string;
  /** active, pending_guardian (a minor awaiting consent) or frozen. */
  status?: string;
}

export interface Device {
  id: string;
  model?: string;
  os?: string;
  app_version?: string;
  network?: string;
  last_seen_at?: string;
  created_at?: string;
  login_ip?: string;
  current?: boolean;
}

export interface DeviceInfo {
  id: string;
  model: string;
  os: string;
  app_version: string;
  network?: string;
}

export interface Policy {
  version: string;
  major?: boolean | number;
  text: string;
  published_at?: string;
}

export interface Consent {
  kind: string;
  subject: string;
  granted: boolean;
  policy_version?: string;
  at: string;
  purpose?: string;
  method?: string;
}

export interface Export {
  id: string;
  status: 'pending' | 'ready' | 'failed' | string;
  download_url?: string;
  // Beyond API.md; the server's OpenAPI document has them. Shown when present.
  created_at?: string;
  expires_at?: string;
  size?: number;
}

export type CodePurpose = 'register' | 'login' | 'step_up' | 'reset';

export const PERMISSIONS = ['phone_state', 'storage', 'album', 'camera', 'location', 'microphone'] as const;
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

export function setToken(t: string | null): void {
  memoryToken = t;
  const s = storage();
  if (!s) return;
  if (t) s.setItem(TOKEN_KEY, t);
  else s.removeItem(TOKEN_KEY);
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
}

/** Sends one call; answers the response when it is 2xx, else throws ApiError. */
async function send(method: string, path: string, opts: Options = {}): Promise<Response> {
  const auth = opts.auth ?? true;
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const sent = memoryToken;
  if (auth && sent) headers.Authorization = `Bearer ${sent}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  if (res.ok) return res;
  const err = await problem(res);
  // Only a token we actually sent can be dead. A wrong password (at login, or
  // re-entered to destroy the account) is also 401, with code
  // invalid_credentials: that is the form's business, not a sign-out.
  if (res.status === 401 && auth && sent && err.code !== 'invalid_credentials') {
    if (memoryToken === sent) setToken(null);
    onSignedOut();
  }
  throw err;
}

async function request<T>(method: string, path: string, opts: Options = {}): Promise<T> {
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

export interface AuthAnswer {
  user: User;
  token: string;
}

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
  sendCode: (phone: string, purpose: CodePurpose) =>
    request<void>('POST', '/api/v1/verification-codes', { body: { phone, purpose }, auth: false }),
  register: (a: NewAccount) =>
    request<AuthAnswer>('POST', '/api/v1/accounts', { body: { ...a, device: deviceInfo() }, auth: false }),
  loginPassword: (login: string, password: string) =>
    request<AuthAnswer>('POST', '/api/v1/sessions', { body: { login, password, device: deviceInfo() }, auth: false }),
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
};

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
