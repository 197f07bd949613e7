// English and Simplified Chinese strings. The language comes from the saved
// choice, else navigator.language; t() looks a key up in the current one.

const en = {
  'app.name': 'tkesj',
  'app.loading': 'Loading…',
  'welcome.tagline': 'Chats, contacts and Moments, on a server you can trust with them.',
  'welcome.login': 'Log in',
  'welcome.register': 'Create account',
  'welcome.destroyed': 'Your account has been destroyed.',

  'common.back': 'Back',
  'common.save': 'Save',
  'common.cancel': 'Cancel',
  'common.retry': 'Try again',
  'common.saved': 'Saved.',
  'common.optional': 'optional',

  'field.phone': 'Mobile phone number',
  'field.phoneHint': 'Include the country code, e.g. +86 138 0013 8000.',
  'field.code': 'Verification code',
  'field.username': 'Username',
  'field.usernameHint': '4 to 32 characters: a letter first, then letters (a–z), digits or underscores. Friends can find you by it.',
  'field.password': 'Password',
  'field.nickname': 'Nickname',
  'field.gender': 'Gender',
  'field.birth': 'Birth date (optional)',
  'field.birthHint': 'Minors need a guardian’s consent to finish registering.',
  'gender.male': 'Male',
  'gender.female': 'Female',
  'gender.other': 'Other',
  'gender.unspecified': 'Prefer not to say',

  'code.send': 'Send code',
  'code.resend': 'Resend in {n} s',
  'code.sent': 'A code was sent to {phone}.',
  'code.needPhone': 'Enter your mobile phone number first.',

  'pw.rule': 'At least 8 characters using 3 of: lowercase, uppercase, digits, symbols. Or any 16 characters.',
  'pw.ok': 'Strong enough.',
  'pw.empty': 'Not set yet.',
  'pw.short': 'Too short: {n} of 8 characters.',
  'pw.needMore': 'Missing: {list}. Add {k} of them, or make it 16+ characters.',
  'pw.lower': 'lowercase',
  'pw.upper': 'uppercase',
  'pw.digit': 'digit',
  'pw.symbol': 'symbol',
  'pw.length8': '8+ characters',
  'pw.weak': 'Choose a stronger password: {rule}',
  'pw.show': 'Show password',
  'pw.personal': 'It contains your username, phone number or nickname: choose one that does not.',
  'pw.tooLong': 'Too long: use at most 128 bytes.',

  'policy.title': 'Privacy policy',
  'policy.version': 'Version {v}',
  'policy.accept': 'I have read and accept the privacy policy',
  'policy.mustAccept': 'Read and accept the privacy policy to create an account.',
  'policy.loadFailed': 'The privacy policy could not be loaded.',
  'policy.changed': 'The privacy policy has changed. Read the new version and accept it again.',

  'register.title': 'Create account',
  'register.submit': 'Create account',
  'register.haveAccount': 'Already have an account?',

  'login.title': 'Log in',
  'login.tabs': 'How to log in',
  'login.tabPassword': 'Password',
  'login.tabCode': 'Code',
  'login.login': 'Username or phone number',
  'login.submit': 'Log in',
  'login.noAccount': 'New to tkesj?',
  'login.signedOut': 'You were signed out. Log in again.',

  'tab.nav': 'Main',
  'tab.chats': 'Chats',
  'tab.contacts': 'Contacts',
  'tab.moments': 'Moments',
  'tab.me': 'Me',
  'soon.title': '{name}: coming soon',
  'soon.body': 'This part of tkesj is not built yet, so there is nothing to show here. Your profile, devices, privacy settings and data export already work under Me.',
  'soon.goMe': 'Go to Me',

  'me.title': 'Me',
  'me.username': 'Username: {u}',
  'me.profile': 'Profile',
  'me.security': 'Account and Security',
  'me.privacy': 'Privacy',
  'me.data': 'My data',
  'me.language': 'Language',
  'me.logout': 'Log out',
  'me.pendingGuardian': 'Your account is waiting for a guardian’s consent. Until a guardian agrees, you cannot chat or post.',
  'me.frozen': 'Your account is frozen. Contact support to unfreeze it.',

  'profile.title': 'Profile',
  'profile.unchanged': 'Nothing to save: no field changed.',

  'security.title': 'Account and Security',
  'security.phone': 'Mobile phone number',
  'security.devices': 'Devices',
  'security.devicesHint': 'Browsers and phones signed in to your account. Signing one out ends its session at once.',
  'security.destroy': 'Destroy account',
  'device.current': 'This device',
  'device.lastSeen': 'Last active {t}',
  'device.signOut': 'Sign out',
  'device.confirm': 'Sign out “{name}”?',
  'device.confirmYes': 'Yes, sign it out',
  'device.signedOut': '“{name}” was signed out.',
  'device.unknown': 'Unknown device',
  'device.none': 'No devices.',
  'device.signedIn': 'Signed in {t}',
  'device.ip': 'IP {ip}',

  'destroy.title': 'Destroy account',
  'destroy.warning': 'This cannot be undone.',
  'destroy.p1': 'Your account is destroyed immediately, and every device is signed out.',
  'destroy.p2': 'Your profile, contacts, offline messages, Moments and all other account information are deleted.',
  'destroy.p3': 'People you chatted with keep the conversation, but your messages show as from a deleted account, with no content.',
  'destroy.p4': 'Registering again with the same phone number creates a new, empty account.',
  'destroy.p5': 'Want a copy first? Export your data under My data.',
  'destroy.password': 'Enter your password to confirm',
  'destroy.submit': 'Destroy my account',

  'privacy.title': 'Privacy',
  'privacy.permissions': 'Permissions',
  'privacy.permissionsHint': 'tkesj uses a permission only while you allow it. Turning one off stops future use; what you already shared stays until you delete it.',
  'privacy.history': 'Consent history',
  'privacy.historyHint': 'Every consent you gave or withdrew, oldest first.',
  'privacy.empty': 'No entries yet.',
  'privacy.policy': 'Read the privacy policy',
  'perm.phone_state': 'Phone state',
  'perm.phone_state.desc': 'Identify this device for account security and risk control.',
  'perm.storage': 'Storage',
  'perm.storage.desc': 'Save and open pictures, videos and files.',
  'perm.album': 'Album',
  'perm.album.desc': 'Upload pictures and videos from your album.',
  'perm.camera': 'Camera',
  'perm.camera.desc': 'Take photos and videos to send or share.',
  'perm.location': 'Location',
  'perm.location.desc': 'Share your current location in chats and Moments.',
  'perm.microphone': 'Microphone',
  'perm.microphone.desc': 'Send voice messages.',
  'perm.on': '{name} allowed.',
  'perm.off': '{name} turned off.',
  'consent.granted': 'Granted',
  'consent.withdrawn': 'Withdrawn',
  'consent.kind.policy': 'Privacy policy',
  'consent.kind.permission': 'Permission',
  'consent.policyVersion': 'Policy version {v}',

  'data.title': 'My data',
  'data.intro': 'Download a copy of all the personal information tkesj holds about you: machine-readable JSON and your media, with a readable index.',
  'data.request': 'Request export',
  'data.pending': 'Preparing your export…',
  'data.ready': 'Your export is ready.',
  'data.failed': 'The export failed. Request a new one.',
  'data.download': 'Download export',
  'data.downloaded': 'Saved as {name}.',
  'data.expires': 'available until {t}',

  'err.network': 'Cannot reach the server. Check your connection and try again.',
  'err.rateLimited': 'Too many attempts. Try again in {n} seconds.',
  'err.generic': 'Something went wrong (HTTP {status}). Try again.',
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  'app.name': 'tkesj',
  'app.loading': '加载中…',
  'welcome.tagline': '聊天、通讯录和朋友圈，运行在值得托付的服务器上。',
  'welcome.login': '登录',
  'welcome.register': '注册',
  'welcome.destroyed': '你的账号已注销。',

  'common.back': '返回',
  'common.save': '保存',
  'common.cancel': '取消',
  'common.retry': '重试',
  'common.saved': '已保存。',
  'common.optional': '选填',

  'field.phone': '手机号',
  'field.phoneHint': '请包含国家码，例如 +86 138 0013 8000。',
  'field.code': '验证码',
  'field.username': '用户名',
  'field.usernameHint': '4–32 位：以英文字母开头，可含英文字母、数字和下划线。好友可以通过用户名找到你。',
  'field.password': '密码',
  'field.nickname': '昵称',
  'field.gender': '性别',
  'field.birth': '出生日期（选填）',
  'field.birthHint': '未成年人需经监护人同意才能完成注册。',
  'gender.male': '男',
  'gender.female': '女',
  'gender.other': '其他',
  'gender.unspecified': '不透露',

  'code.send': '获取验证码',
  'code.resend': '{n} 秒后重发',
  'code.sent': '验证码已发送至 {phone}。',
  'code.needPhone': '请先输入手机号。',

  'pw.rule': '至少 8 位，且包含小写字母、大写字母、数字、符号中的 3 类；或任意 16 位以上。',
  'pw.ok': '强度足够。',
  'pw.empty': '尚未填写。',
  'pw.short': '太短：{n}/8 位。',
  'pw.needMore': '缺少：{list}。请加入其中 {k} 类，或使用 16 位以上。',
  'pw.lower': '小写字母',
  'pw.upper': '大写字母',
  'pw.digit': '数字',
  'pw.symbol': '符号',
  'pw.length8': '8 位以上',
  'pw.weak': '请设置更强的密码：{rule}',
  'pw.show': '显示密码',
  'pw.personal': '密码中含有你的用户名、手机号或昵称，请换一个。',
  'pw.tooLong': '太长：最多 128 字节。',

  'policy.title': '隐私政策',
  'policy.version': '版本 {v}',
  'policy.accept': '我已阅读并同意隐私政策',
  'policy.mustAccept': '请阅读并同意隐私政策后再注册。',
  'policy.loadFailed': '隐私政策加载失败。',
  'policy.changed': '隐私政策已更新，请阅读新版本并再次同意。',

  'register.title': '注册账号',
  'register.submit': '注册',
  'register.haveAccount': '已有账号？',

  'login.title': '登录',
  'login.tabs': '登录方式',
  'login.tabPassword': '密码登录',
  'login.tabCode': '验证码登录',
  'login.login': '用户名或手机号',
  'login.submit': '登录',
  'login.noAccount': '还没有账号？',
  'login.signedOut': '你已退出登录，请重新登录。',

  'tab.nav': '主导航',
  'tab.chats': '聊天',
  'tab.contacts': '通讯录',
  'tab.moments': '朋友圈',
  'tab.me': '我',
  'soon.title': '{name}：即将推出',
  'soon.body': '这部分功能尚未完成，因此这里暂无内容。个人信息、登录设备、隐私设置和数据导出已可在“我”中使用。',
  'soon.goMe': '前往“我”',

  'me.title': '我',
  'me.username': '用户名：{u}',
  'me.profile': '个人信息',
  'me.security': '账号与安全',
  'me.privacy': '隐私',
  'me.data': '我的数据',
  'me.language': '语言',
  'me.logout': '退出登录',
  'me.pendingGuardian': '你的账号正在等待监护人同意。监护人同意前，你无法聊天或发布内容。',
  'me.frozen': '你的账号已冻结。如需解冻，请联系客服。',

  'profile.title': '个人信息',
  'profile.unchanged': '没有需要保存的修改。',

  'security.title': '账号与安全',
  'security.phone': '手机号',
  'security.devices': '登录设备',
  'security.devicesHint': '已登录你账号的浏览器和手机。让某台设备退出后，它的会话立即失效。',
  'security.destroy': '注销账号',
  'device.current': '本机',
  'device.lastSeen': '最近活跃：{t}',
  'device.signOut': '退出登录',
  'device.confirm': '让“{name}”退出登录？',
  'device.confirmYes': '确定退出',
  'device.signedOut': '“{name}”已退出登录。',
  'device.unknown': '未知设备',
  'device.none': '没有设备。',
  'device.signedIn': '登录于 {t}',
  'device.ip': 'IP {ip}',

  'destroy.title': '注销账号',
  'destroy.warning': '此操作无法撤销。',
  'destroy.p1': '账号将立即注销，所有设备都会退出登录。',
  'destroy.p2': '你的资料、联系人、离线消息、朋友圈及其他所有账号信息都将被删除。',
  'destroy.p3': '与你聊过天的人仍保留会话，但你的消息将显示为来自已注销账号，且不含内容。',
  'destroy.p4': '用同一手机号再次注册，将得到一个全新的空账号。',
  'destroy.p5': '想先保留一份？请在“我的数据”中导出。',
  'destroy.password': '输入密码以确认',
  'destroy.submit': '注销我的账号',

  'privacy.title': '隐私',
  'privacy.permissions': '权限',
  'privacy.permissionsHint': 'tkesj 仅在你允许时使用某项权限。关闭后不再使用；已分享的内容在你删除前仍会保留。',
  'privacy.history': '授权记录',
  'privacy.historyHint': '你给出或撤回的每一项授权，按时间先后排列。',
  'privacy.empty': '暂无记录。',
  'privacy.policy': '阅读隐私政策',
  'perm.phone_state': '读取手机状态',
  'perm.phone_state.desc': '识别本设备，用于账号安全和风险控制。',
  'perm.storage': '存储',
  'perm.storage.desc': '保存和打开图片、视频及文件。',
  'perm.album': '相册',
  'perm.album.desc': '从相册上传图片和视频。',
  'perm.camera': '相机',
  'perm.camera.desc': '拍摄照片和视频以发送或分享。',
  'perm.location': '位置',
  'perm.location.desc': '在聊天和朋友圈中分享当前位置。',
  'perm.microphone': '麦克风',
  'perm.microphone.desc': '发送语音消息。',
  'perm.on': '已允许{name}。',
  'perm.off': '已关闭{name}。',
  'consent.granted': '已授权',
  'consent.withdrawn': '已撤回',
  'consent.kind.policy': '隐私政策',
  'consent.kind.permission': '权限',
  'consent.policyVersion': '政策版本 {v}',

  'data.title': '我的数据',
  'data.intro': '下载 tkesj 保存的关于你的全部个人信息：机器可读的 JSON 和你的媒体文件，并附可阅读的索引。',
  'data.request': '申请导出',
  'data.pending': '正在准备导出…',
  'data.ready': '导出已就绪。',
  'data.failed': '导出失败，请重新申请。',
  'data.download': '下载导出文件',
  'data.downloaded': '已保存为 {name}。',
  'data.expires': '有效期至 {t}',

  'err.network': '无法连接服务器，请检查网络后重试。',
  'err.rateLimited': '操作过于频繁，请在 {n} 秒后重试。',
  'err.generic': '出错了（HTTP {status}），请重试。',
};

export type Lang = 'en' | 'zh';
export const LANGS: { id: Lang; name: string; tag: string }[] = [
  { id: 'en', name: 'English', tag: 'en' },
  { id: 'zh', name: '简体中文', tag: 'zh-CN' },
];

const dicts: Record<Lang, Record<Key, string>> = { en, zh };
const LANG_KEY = 'tkesj.lang';

function initial(): Lang {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    // storage disabled
  }
  const prefs = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const p of prefs) {
    const l = (p || '').toLowerCase();
    if (l.startsWith('zh')) return 'zh';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

let current: Lang = initial();
document.documentElement.lang = LANGS.find((l) => l.id === current)!.tag;

export function lang(): Lang {
  return current;
}

export function setLang(l: Lang): void {
  current = l;
  document.documentElement.lang = LANGS.find((x) => x.id === l)!.tag;
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export function t(key: Key, params?: Record<string, string | number>): string {
  let s = dicts[current][key] ?? en[key];
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

/** The string for a key built at run time (e.g. from a server value), if there is one. */
export function tMaybe(key: string): string | undefined {
  return key in en ? t(key as Key) : undefined;
}

/** Formats an RFC 3339 time for people, in their language and time zone. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(LANGS.find((l) => l.id === current)!.tag, {
    dateStyle: 'medium',
    timeStyle: 'medium',
  }).format(d);
}

/** Joins a short list the way the language does ("a, b" / "a、b"). */
export function formatList(items: string[]): string {
  return items.join(current === 'zh' ? '、' : ', ');
}
