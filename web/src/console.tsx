// The staff console (R-SEC-1, issue 9): a lazily loaded chunk, so people who
// are not staff never download it. Each section shows only when the staff
// member's role has its permission (GET /api/v1/admin/me); the server checks
// every call again. Every read of someone's data asks for a purpose first,
// which the server keeps in the audit log and shows the person.
//
// Its strings live here, not in i18n.ts, to keep the first load small.

import { Fragment, type ComponentChildren, type JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, request, type Policy, type S, type StaffSelf } from './api';
import type { Ctx } from './app';
import { Field, Notices, Page, PolicyText, useAction } from './components';
import { formatTime, lang } from './i18n';
import { link } from './router';

// ---- strings ----

const en = {
  title: 'Staff console',
  role: 'Your role: {r}',
  sections: 'Sections',
  notStaff: 'The staff console is only for staff members. Your account is not on the staff.',
  notAllowed: 'Your role does not include this section.',
  loading: 'Loading…',
  none: 'Nothing here.',
  'role.support': 'Support',
  'role.moderator': 'Moderator',
  'role.privacy_officer': 'Privacy officer',
  'role.admin': 'Administrator',
  's.people': 'People',
  's.rights': 'Rights requests',
  's.reports': 'Reports & moderation',
  's.incidents': 'Incidents',
  's.holds': 'Legal holds',
  's.legal': 'Legal processing',
  's.sharing': 'Recipients & sharing',
  's.announce': 'Announcements',
  's.stats': 'Statistics',
  's.audit': 'Audit log',
  's.staff': 'Staff',
  's.tickets': 'Support tickets',
  's.policy': 'Policy versions',
  'purpose.title': 'Why do you need to read this?',
  'purpose.what': 'You are about to read: {w}',
  'purpose.label': 'Purpose of this read',
  'purpose.hint': '10 to 500 characters. It is kept in the audit log and shown to the person in “Who looked at my data”.',
  'purpose.count': '{n} of 500 characters',
  'purpose.read': 'Read',
  cancel: 'Cancel',
  userId: 'User id',
  lookUp: 'Look up',
  profile: 'Profile',
  devices: 'Devices',
  restrictions: 'Restrictions',
  'f.username': 'Username',
  'f.nickname': 'Nickname',
  'f.gender': 'Gender',
  'f.phone': 'Phone (masked)',
  'f.status': 'Status',
  'f.minor': 'Minor',
  'f.created': 'Created',
  'f.id': 'Id',
  'f.model': 'Model',
  'f.os': 'System',
  'f.app': 'App version',
  'f.network': 'Network',
  'f.lastSeen': 'Last seen',
  'f.kind': 'Kind',
  'f.until': 'Until',
  yes: 'Yes',
  no: 'No',
  // rights requests
  'rr.queue': 'Open requests',
  'rr.kind': 'Request',
  'rr.status': 'Status',
  'rr.received': 'Received',
  'rr.due': 'Due',
  'rr.left': 'Days left',
  'rr.overdue': '{n} days overdue',
  'rr.days': '{n} days',
  'rr.read': 'Read details',
  'rr.readName': 'Read details of the {k} request received {t}',
  'rr.what': 'a rights request and who sent it',
  'rr.details': 'Request {id}',
  'rr.user': 'From user',
  'rr.text': 'Details',
  'rr.verified': 'Identity verified',
  'rr.answer': 'Answer',
  'rr.advance': 'Next step',
  'rr.to.in_progress': 'In progress',
  'rr.to.done': 'Done',
  'rr.to.refused': 'Refused',
  'rr.answerLabel': 'Answer to the person',
  'rr.reasonLabel': 'Reason for the refusal (required)',
  'rr.submit': 'Update request',
  'rr.updated': 'The request is now “{s}”.',
  'rr.empty': 'No open requests.',
  'rr.status.received': 'Received (identity not yet verified)',
  'rr.status.identity_verified': 'Identity verified',
  'rr.status.in_progress': 'In progress',
  'rr.status.done': 'Done',
  'rr.status.refused': 'Refused',
  'rr.kind.access': 'Access',
  'rr.kind.correction': 'Correction',
  'rr.kind.deletion': 'Deletion',
  'rr.kind.explanation': 'Explanation',
  'rr.kind.complaint': 'Complaint',
  // reports
  'rp.filter': 'Show',
  'rp.open': 'Open',
  'rp.all': 'All',
  'rp.list': 'Reports',
  'rp.target': 'Reported {k} {id}',
  'rp.read': 'Read report',
  'rp.what': 'a report, the reported content and who sent it',
  'rp.reporter': 'Reporter',
  'rp.targetUser': 'Reported user',
  'rp.reason': 'Reason',
  'rp.content': 'Content',
  'rp.dismiss': 'Dismiss report',
  'rp.dismissed': 'The report was dismissed.',
  'rp.empty': 'No reports.',
  'mod.title': 'Moderation action',
  'mod.action': 'Action',
  'mod.warn': 'Warn',
  'mod.restrict': 'Restrict',
  'mod.ban': 'Ban',
  'mod.lift': 'Lift restrictions',
  'mod.days': 'Days (restrict or ban; empty for the default)',
  'mod.reason': 'Reason (10 to 1000 characters; the person is told)',
  'mod.submit': 'Take action',
  'mod.done': 'Done: {a} on {u}.',
  // incidents
  'in.new': 'Record an incident',
  'in.summary': 'What happened (10 to 2000 characters)',
  'in.when': 'When it happened',
  'in.categories': 'Data categories (comma-separated lower-case words, e.g. profile, phone, messages)',
  'in.users': 'Affected user ids (comma or space separated)',
  'in.submit': 'Record incident',
  'in.recorded': 'Incident recorded; the affected people are notified.',
  'in.list': 'Incidents',
  'in.occurred': 'Occurred {t}',
  'in.recordedAt': 'recorded {t}',
  'in.show': 'Show who was notified',
  'in.people': 'People notified',
  'in.notified': 'Notified',
  'in.readAt': 'Read',
  'in.empty': 'No incidents recorded.',
  // holds
  'h.new': 'Ask for a legal hold',
  'h.subjectKind': 'Subject',
  'h.user': 'User',
  'h.conversation': 'Conversation',
  'h.subjectId': 'Subject id',
  'h.ground': 'Legal ground',
  'h.reference': 'Reference (3 to 200 characters)',
  'h.submit': 'Ask for hold',
  'h.created': 'The hold is pending: a second staff member must approve it.',
  'h.list': 'Holds',
  'h.status.pending': 'Pending approval',
  'h.status.active': 'Active',
  'h.status.released': 'Released',
  'h.requested': 'Asked by {u} {t}',
  'h.approved': 'Approved by {u} {t}',
  'h.released': 'Released by {u} {t}',
  'h.approve': 'Approve',
  'h.release': 'Release',
  'h.approveName': 'Approve hold {r}',
  'h.releaseName': 'Release hold {r}',
  'h.approvedOk': 'The hold is active.',
  'h.releasedOk': 'The hold is released.',
  'h.empty': 'No holds.',
  // legal processing
  'lp.intro': 'Record processing of a person’s data without their consent, under a legal ground. The person sees it in their access log unless notice is deferred.',
  'lp.description': 'What is processed and why (10 to 2000 characters)',
  'lp.defer': 'Defer notice until (optional)',
  'lp.submit': 'Record processing',
  'lp.recorded': 'Recorded.',
  // sharing
  'sh.recipients': 'Recipients',
  'sh.add': 'Add a recipient',
  'sh.kind': 'Kind',
  'sh.kind.affiliate': 'Affiliate',
  'sh.kind.partner': 'Partner',
  'sh.kind.sdk': 'SDK',
  'sh.name': 'Name',
  'sh.purpose': 'Purpose (10 to 500 characters; people read it before they consent)',
  'sh.categories': 'Data categories (comma-separated)',
  'sh.region': 'Region (e.g. CN, EU, US)',
  'sh.deletionUrl': 'Deletion URL',
  'sh.deliveryUrl': 'Delivery URL (optional)',
  'sh.submit': 'Add recipient',
  'sh.added': 'Recipient added. Its signing secret, shown once: {s}',
  'sh.records': 'Sharing records',
  'sh.recipient': 'Recipient',
  'sh.basis': 'Basis',
  'sh.deletion': 'Deletion',
  'sh.at': 'When',
  'sh.empty': 'No recipients.',
  'sh.noRecords': 'No sharing records.',
  // announcements
  'an.kind': 'Kind',
  'an.general': 'General',
  'an.policy': 'Policy',
  'an.title': 'Title',
  'an.body': 'Text',
  'an.submit': 'Send announcement',
  'an.sent': 'Announcement sent to everyone.',
  // stats
  'st.days': 'Period',
  'st.daysN': 'Last {n} days',
  'st.note': 'De-identified counts. A count below {k} is shown as “<{k}” so no one can be singled out.',
  'st.generated': 'Generated {t}',
  'st.active': 'Active users per day',
  'st.messages': 'Messages per kind',
  'st.posts': 'Moments posts per day',
  'st.day': 'Day',
  'st.kind': 'Kind',
  'st.count': 'Count',
  // audit
  'au.filter': 'Only entries about user id (optional)',
  'au.read': 'Read audit log',
  'au.what': 'the audit log',
  'au.at': 'When',
  'au.actor': 'Staff',
  'au.action': 'Action',
  'au.subject': 'About',
  'au.target': 'Target',
  'au.purpose': 'Purpose / note',
  'au.entries': 'Audit log entries',
  // staff
  'sf.list': 'Staff members',
  'sf.username': 'Username',
  'sf.role': 'Role',
  'sf.added': 'Added',
  'sf.roleOf': 'Role of {u}',
  'sf.set': 'Change role',
  'sf.remove': 'Remove {u} from the staff',
  'sf.changed': 'Role changed.',
  'sf.removed': 'Removed from the staff.',
  'sf.cli': 'New staff members are added on the server: tkesj admin staff add --username U --role R.',
  // tickets
  'tk.list': 'Tickets',
  'tk.read': 'Read ticket',
  'tk.what': 'a support ticket and its messages',
  'tk.reply': 'Reply',
  'tk.close': 'Close the ticket with this reply',
  'tk.send': 'Send reply',
  'tk.sent': 'Reply sent.',
  'tk.empty': 'No tickets.',
  // policy
  'po.current': 'Current version {v}',
  'po.published': 'published {t}',
  'po.publish': 'Publishing a new policy version is a command on the server, not a web action: tkesj admin policy publish. People then accept it in the app (a major version blocks the app until they do).',
};

type SKey = keyof typeof en;

const zh: Record<SKey, string> = {
  title: '员工控制台',
  role: '你的角色：{r}',
  sections: '功能',
  notStaff: '员工控制台仅供员工使用。你的账号不是员工账号。',
  notAllowed: '你的角色无权使用此功能。',
  loading: '加载中…',
  none: '暂无内容。',
  'role.support': '客服',
  'role.moderator': '内容审核员',
  'role.privacy_officer': '个人信息保护负责人',
  'role.admin': '管理员',
  's.people': '用户',
  's.rights': '权利请求',
  's.reports': '举报与处置',
  's.incidents': '安全事件',
  's.holds': '法律保全',
  's.legal': '依法处理',
  's.sharing': '接收方与共享记录',
  's.announce': '公告',
  's.stats': '统计',
  's.audit': '审计日志',
  's.staff': '员工',
  's.tickets': '客服工单',
  's.policy': '隐私政策版本',
  'purpose.title': '你为什么需要查看这些信息？',
  'purpose.what': '你将查看：{w}',
  'purpose.label': '查看目的',
  'purpose.hint': '10 到 500 个字符。它会记入审计日志，并在“谁查看过我的数据”中向本人展示。',
  'purpose.count': '{n}/500 个字符',
  'purpose.read': '查看',
  cancel: '取消',
  userId: '用户 ID',
  lookUp: '查询',
  profile: '个人信息',
  devices: '设备',
  restrictions: '限制',
  'f.username': '用户名',
  'f.nickname': '昵称',
  'f.gender': '性别',
  'f.phone': '手机号（已脱敏）',
  'f.status': '状态',
  'f.minor': '未成年人',
  'f.created': '创建时间',
  'f.id': 'ID',
  'f.model': '型号',
  'f.os': '系统',
  'f.app': '应用版本',
  'f.network': '网络',
  'f.lastSeen': '最近使用',
  'f.kind': '类型',
  'f.until': '截至',
  yes: '是',
  no: '否',
  'rr.queue': '待处理请求',
  'rr.kind': '请求',
  'rr.status': '状态',
  'rr.received': '收到时间',
  'rr.due': '答复期限',
  'rr.left': '剩余天数',
  'rr.overdue': '已逾期 {n} 天',
  'rr.days': '{n} 天',
  'rr.read': '查看详情',
  'rr.readName': '查看 {t} 收到的“{k}”请求详情',
  'rr.what': '一项权利请求及其提出人',
  'rr.details': '请求 {id}',
  'rr.user': '提出人',
  'rr.text': '详情',
  'rr.verified': '身份已验证',
  'rr.answer': '答复',
  'rr.advance': '下一步',
  'rr.to.in_progress': '处理中',
  'rr.to.done': '已完成',
  'rr.to.refused': '已拒绝',
  'rr.answerLabel': '给本人的答复',
  'rr.reasonLabel': '拒绝理由（必填）',
  'rr.submit': '更新请求',
  'rr.updated': '请求状态已更新为“{s}”。',
  'rr.empty': '没有待处理的请求。',
  'rr.status.received': '已收到（身份尚未验证）',
  'rr.status.identity_verified': '身份已验证',
  'rr.status.in_progress': '处理中',
  'rr.status.done': '已完成',
  'rr.status.refused': '已拒绝',
  'rr.kind.access': '查阅',
  'rr.kind.correction': '更正',
  'rr.kind.deletion': '删除',
  'rr.kind.explanation': '解释说明',
  'rr.kind.complaint': '投诉',
  'rp.filter': '显示',
  'rp.open': '待处理',
  'rp.all': '全部',
  'rp.list': '举报',
  'rp.target': '被举报的{k} {id}',
  'rp.read': '查看举报',
  'rp.what': '一条举报、被举报的内容及举报人',
  'rp.reporter': '举报人',
  'rp.targetUser': '被举报用户',
  'rp.reason': '理由',
  'rp.content': '内容',
  'rp.dismiss': '驳回举报',
  'rp.dismissed': '举报已驳回。',
  'rp.empty': '没有举报。',
  'mod.title': '处置',
  'mod.action': '措施',
  'mod.warn': '警告',
  'mod.restrict': '限制',
  'mod.ban': '封禁',
  'mod.lift': '解除限制',
  'mod.days': '天数（限制或封禁；留空为默认）',
  'mod.reason': '理由（10 到 1000 个字符；会告知本人）',
  'mod.submit': '执行',
  'mod.done': '已执行：对 {u} {a}。',
  'in.new': '记录安全事件',
  'in.summary': '事件经过（10 到 2000 个字符）',
  'in.when': '发生时间',
  'in.categories': '涉及的数据类别（用逗号分隔的小写英文词，如 profile、phone、messages）',
  'in.users': '受影响的用户 ID（用逗号或空格分隔）',
  'in.submit': '记录事件',
  'in.recorded': '事件已记录，已通知受影响的用户。',
  'in.list': '安全事件',
  'in.occurred': '发生于 {t}',
  'in.recordedAt': '记录于 {t}',
  'in.show': '查看通知情况',
  'in.people': '已通知的用户',
  'in.notified': '通知时间',
  'in.readAt': '阅读时间',
  'in.empty': '没有安全事件记录。',
  'h.new': '申请法律保全',
  'h.subjectKind': '对象',
  'h.user': '用户',
  'h.conversation': '会话',
  'h.subjectId': '对象 ID',
  'h.ground': '法律依据',
  'h.reference': '文号（3 到 200 个字符）',
  'h.submit': '申请保全',
  'h.created': '保全待批准：需由另一名员工批准。',
  'h.list': '保全',
  'h.status.pending': '待批准',
  'h.status.active': '生效中',
  'h.status.released': '已解除',
  'h.requested': '{u} 于 {t} 申请',
  'h.approved': '{u} 于 {t} 批准',
  'h.released': '{u} 于 {t} 解除',
  'h.approve': '批准',
  'h.release': '解除',
  'h.approveName': '批准保全 {r}',
  'h.releaseName': '解除保全 {r}',
  'h.approvedOk': '保全已生效。',
  'h.releasedOk': '保全已解除。',
  'h.empty': '没有保全。',
  'lp.intro': '记录依据法律、未经本人同意处理其个人信息的情况。除非推迟告知，本人会在访问记录中看到。',
  'lp.description': '处理的内容与原因（10 到 2000 个字符）',
  'lp.defer': '推迟告知至（选填）',
  'lp.submit': '记录处理',
  'lp.recorded': '已记录。',
  'sh.recipients': '接收方',
  'sh.add': '添加接收方',
  'sh.kind': '类型',
  'sh.kind.affiliate': '关联公司',
  'sh.kind.partner': '合作方',
  'sh.kind.sdk': 'SDK',
  'sh.name': '名称',
  'sh.purpose': '目的（10 到 500 个字符；用户同意前会阅读）',
  'sh.categories': '数据类别（用逗号分隔）',
  'sh.region': '地区（如 CN、EU、US）',
  'sh.deletionUrl': '删除通知地址',
  'sh.deliveryUrl': '投递地址（选填）',
  'sh.submit': '添加接收方',
  'sh.added': '接收方已添加。签名密钥（仅显示一次）：{s}',
  'sh.records': '共享记录',
  'sh.recipient': '接收方',
  'sh.basis': '依据',
  'sh.deletion': '删除',
  'sh.at': '时间',
  'sh.empty': '没有接收方。',
  'sh.noRecords': '没有共享记录。',
  'an.kind': '类型',
  'an.general': '一般公告',
  'an.policy': '隐私政策',
  'an.title': '标题',
  'an.body': '正文',
  'an.submit': '发送公告',
  'an.sent': '公告已发送给所有人。',
  'st.days': '时间范围',
  'st.daysN': '最近 {n} 天',
  'st.note': '去标识化统计。小于 {k} 的数显示为“<{k}”，以免识别到个人。',
  'st.generated': '生成于 {t}',
  'st.active': '每日活跃用户',
  'st.messages': '各类消息数',
  'st.posts': '每日朋友圈发布数',
  'st.day': '日期',
  'st.kind': '类型',
  'st.count': '数量',
  'au.filter': '仅显示关于此用户 ID 的记录（选填）',
  'au.read': '查看审计日志',
  'au.what': '审计日志',
  'au.at': '时间',
  'au.actor': '员工',
  'au.action': '操作',
  'au.subject': '涉及用户',
  'au.target': '对象',
  'au.purpose': '目的 / 备注',
  'au.entries': '审计日志记录',
  'sf.list': '员工',
  'sf.username': '用户名',
  'sf.role': '角色',
  'sf.added': '添加时间',
  'sf.roleOf': '{u} 的角色',
  'sf.set': '更改角色',
  'sf.remove': '将 {u} 移出员工',
  'sf.changed': '角色已更改。',
  'sf.removed': '已移出员工。',
  'sf.cli': '新员工需在服务器上添加：tkesj admin staff add --username U --role R。',
  'tk.list': '工单',
  'tk.read': '查看工单',
  'tk.what': '一张客服工单及其消息',
  'tk.reply': '回复',
  'tk.close': '回复并关闭工单',
  'tk.send': '发送回复',
  'tk.sent': '回复已发送。',
  'tk.empty': '没有工单。',
  'po.current': '当前版本 {v}',
  'po.published': '发布于 {t}',
  'po.publish': '发布新版隐私政策需在服务器上执行命令，而非网页操作：tkesj admin policy publish。之后用户会在应用中确认（重大更新在确认前会阻止使用应用）。',
};

function s(key: SKey, params?: Record<string, string | number>): string {
  let out = (lang() === 'zh' ? zh : en)[key] ?? en[key];
  if (params) for (const [k, v] of Object.entries(params)) out = out.split(`{${k}}`).join(String(v));
  return out;
}
function sMaybe(key: string, fallback: string): string {
  return key in en ? s(key as SKey) : fallback;
}

// ---- API ----

const enc = encodeURIComponent;
const A = '/api/v1/admin';
const get = <T,>(path: string) => request<T>('GET', A + path);
const post = <T,>(path: string, body?: unknown) => request<T>('POST', A + path, body === undefined ? {} : { body });

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const GROUNDS = [
  'national_security',
  'public_safety',
  'criminal_investigation',
  'vital_interests',
  'self_disclosed',
  'lawful_public_source',
  'contract',
  'service_security',
  'news_reporting',
  'statistical_research',
  'other_law',
];

/** The legal grounds' wording, from the public list (fallback: the codes). */
let groundsP: Promise<Record<string, string>> | null = null;
function useGrounds(): Record<string, string> {
  const [g, setG] = useState<Record<string, string>>({});
  useEffect(() => {
    groundsP ??= request<S['LegalGroundList']>('GET', '/api/v1/legal-grounds', { auth: false }).then(
      (r) => Object.fromEntries((r.grounds ?? []).map((x) => [x.code, x.wording])),
      () => ((groundsP = null), {}),
    );
    let alive = true;
    groundsP.then((x) => alive && setG(x));
    return () => {
      alive = false;
    };
  }, []);
  return g;
}

// ---- sections ----

const SECTIONS: [string, string][] = [
  ['people', 'users.read'],
  ['rights', 'rights_requests'],
  ['reports', 'moderation'],
  ['incidents', 'incidents'],
  ['holds', 'holds'],
  ['legal', 'legal_processing'],
  ['sharing', 'sharing'],
  ['announce', 'announcements'],
  ['stats', 'stats'],
  ['audit', 'audit'],
  ['staff', 'staff'],
  ['tickets', 'support'],
  ['policy', 'self'],
];

const roleName = (r: string) => sMaybe(`role.${r}`, r);
const list = (v: string) =>
  v
    .split(/[,\s，、]+/)
    .map((x) => x.trim())
    .filter(Boolean);
const csv = (v: string) =>
  v
    .split(/[,，、]/)
    .map((x) => x.trim())
    .filter(Boolean);
const when = (iso?: string | null) => (iso ? formatTime(iso) : '—');

/** Who the caller is on the staff; null while loading. */
function useStaff(userId: string) {
  const [me, setMe] = useState<StaffSelf | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let alive = true;
    api.staffSelf().then(
      (m) => alive && setMe(m),
      (e) => alive && setError(e),
    );
    return () => {
      alive = false;
    };
  }, [userId]);
  return { me, error };
}

/** A console page: refuses non-staff and roles without the permission. */
function Frame({ c, title, perm, children }: { c: Ctx; title: string; perm?: string; children: (me: StaffSelf) => ComponentChildren }) {
  const { me, error } = useStaff(c.user.id);
  const back = perm ? '/staff' : '/me';
  let body: ComponentChildren;
  if (error) body = <Notices error={error instanceof ApiError && error.status === 403 ? s('notStaff') : error} />;
  else if (!me)
    body = (
      <p class="muted" role="status">
        {s('loading')}
      </p>
    );
  else if (perm && !me.permissions.includes(perm)) body = <Notices error={s('notAllowed')} />;
  else body = children(me);
  return (
    <Page title={title} back={back}>
      {body}
    </Page>
  );
}

export function Console(c: Ctx) {
  return (
    <Frame c={c} title={s('title')}>
      {(me) => (
        <>
          <p>{s('role', { r: roleName(me.role) })}</p>
          <nav aria-label={s('sections')}>
            <ul class="list card staff-nav">
              {SECTIONS.filter(([, p]) => me.permissions.includes(p)).map(([id]) => (
                <li key={id}>
                  <a class="list-item" {...link(`/staff/${id}`)}>
                    <span>{s(`s.${id}` as SKey)}</span>
                    <span class="chevron" aria-hidden="true">
                      ›
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        </>
      )}
    </Frame>
  );
}

const SCREENS: Record<string, () => JSX.Element> = {
  people: People,
  rights: Rights,
  reports: Reports,
  incidents: Incidents,
  holds: Holds,
  legal: Legal,
  sharing: Sharing,
  announce: Announce,
  stats: Stats,
  audit: Audit,
  staff: Staff,
  tickets: Tickets,
  policy: PolicyVersions,
};

export function Section(c: Ctx) {
  const id = c.params[0];
  const entry = SECTIONS.find(([x]) => x === id);
  if (!entry) return <Console {...c} />;
  const Screen = SCREENS[id];
  return (
    <Frame c={c} title={s(`s.${id}` as SKey)} perm={entry[1]}>
      {() => <Screen />}
    </Frame>
  );
}

// ---- shared pieces ----

/**
 * The purpose prompt of the audit rule: nothing about a person is read until
 * its reason (10 to 500 characters) is given; the call sends it along.
 */
function PurposeDialog({ what, onRead, onClose }: { what: string; onRead: (purpose: string) => Promise<unknown>; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [purpose, setPurpose] = useState('');
  const action = useAction();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const n = purpose.trim().length;
  async function submit(e: Event) {
    e.preventDefault();
    if (await action.run(() => onRead(purpose.trim()))) ref.current?.close();
  }
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="purpose-title" aria-describedby="purpose-what" onClose={onClose}>
      <form onSubmit={submit}>
        <h2 id="purpose-title">{s('purpose.title')}</h2>
        <p id="purpose-what">{s('purpose.what', { w: what })}</p>
        <div class="field">
          <label for="purpose-text">{s('purpose.label')}</label>
          <textarea
            id="purpose-text"
            rows={3}
            minLength={10}
            maxLength={500}
            required
            aria-describedby="purpose-hint purpose-count"
            value={purpose}
            onInput={(e) => setPurpose((e.currentTarget as HTMLTextAreaElement).value)}
          />
          <p class="hint" id="purpose-hint">
            {s('purpose.hint')}
          </p>
          <p class="hint" id="purpose-count">
            {s('purpose.count', { n })}
          </p>
        </div>
        <Notices error={action.error} />
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={() => ref.current?.close()}>
            {s('cancel')}
          </button>
          <button type="submit" class="primary" disabled={action.busy || n < 10 || n > 500}>
            {s('purpose.read')}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** A purpose prompt opened on demand: ask(what, read) shows the dialog. */
function usePurpose() {
  const [req, setReq] = useState<{ what: string; read: (p: string) => Promise<unknown> } | null>(null);
  const el = req && <PurposeDialog what={req.what} onRead={req.read} onClose={() => setReq(null)} />;
  return { ask: (what: string, read: (p: string) => Promise<unknown>) => setReq({ what, read }), dialog: el };
}

/** Loads a list once and on reload(). */
function useLoad<T>(f: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setError(null);
    f().then(
      (d) => alive && setData(d),
      (e) => alive && setError(e),
    );
    return () => {
      alive = false;
    };
  }, [tick, ...deps]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

function TextArea({ id, label, value, onValue, required, maxLength, rows = 3 }: { id: string; label: string; value: string; onValue: (v: string) => void; required?: boolean; maxLength?: number; rows?: number }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} rows={rows} required={required} maxLength={maxLength} value={value} onInput={(e) => onValue((e.currentTarget as HTMLTextAreaElement).value)} />
    </div>
  );
}

function Select({ id, label, value, onValue, options }: { id: string; label: string; value: string; onValue: (v: string) => void; options: [string, string][] }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}

function DateTime({ id, label, value, onValue, required }: { id: string; label: string; value: string; onValue: (v: string) => void; required?: boolean }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} type="datetime-local" required={required} value={value} onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)} />
    </div>
  );
}

const iso = (local: string) => (local ? new Date(local).toISOString() : '');

function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v === '' || v === undefined || v === null ? '—' : v}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

function Table({ caption, head, rows }: { caption: string; head: string[]; rows: ComponentChildren[][] }) {
  return (
    <div class="table-wrap card" tabIndex={0} role="region" aria-label={caption}>
      <table class="data-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {r.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// ---- People ----

function People() {
  const [id, setId] = useState('');
  const [user, setUser] = useState<J | null>(null);
  const purpose = usePurpose();
  function lookUp(e: Event) {
    e.preventDefault();
    const uid = id.trim();
    if (!uid) return;
    purpose.ask(`${s('profile')}, ${s('devices')}: ${uid}`, async (p) => setUser(await get<S['StaffUser']>(`/users/${enc(uid)}?purpose=${enc(p)}`)));
  }
  return (
    <>
      <form class="card card-pad" onSubmit={lookUp}>
        <Field id="people-id" label={s('userId')} value={id} onValue={setId} required />
        <button type="submit" class="primary" disabled={!id.trim()}>
          {s('lookUp')}
        </button>
      </form>
      {purpose.dialog}
      {user && (
        <section aria-labelledby="people-profile">
          <h2 id="people-profile">{s('profile')}</h2>
          <div class="card card-pad">
            <Facts
              rows={[
                [s('f.id'), user.id],
                [s('f.username'), user.username],
                [s('f.nickname'), user.nickname],
                [s('f.gender'), user.gender],
                [s('f.phone'), user.phone_masked],
                [s('f.status'), user.status],
                [s('f.minor'), user.minor ? s('yes') : s('no')],
                [s('f.created'), when(user.created_at)],
              ]}
            />
          </div>
          <h2>{s('devices')}</h2>
          {(user.devices ?? []).length ? (
            <Table
              caption={s('devices')}
              head={[s('f.model'), s('f.os'), s('f.app'), s('f.network'), s('f.created'), s('f.lastSeen')]}
              rows={(user.devices as J[]).map((d) => [d.model, d.os, d.app_version, d.network || '—', when(d.created_at), when(d.last_seen_at)])}
            />
          ) : (
            <p class="muted">{s('none')}</p>
          )}
          {(user.restrictions ?? []).length > 0 && (
            <>
              <h2>{s('restrictions')}</h2>
              <Table caption={s('restrictions')} head={[s('f.kind'), s('f.until')]} rows={(user.restrictions as J[]).map((r) => [r.kind, when(r.until)])} />
            </>
          )}
        </section>
      )}
    </>
  );
}

// ---- Rights requests ----

function daysLeft(due?: string): ComponentChildren {
  if (!due) return '—';
  const n = Math.ceil((Date.parse(due) - Date.now()) / 86400_000);
  return n < 0 ? <span class="overdue">{s('rr.overdue', { n: -n })}</span> : s('rr.days', { n });
}

function Rights() {
  const q = useLoad(() => get<S['StaffRightsRequestList']>('/rights-requests'));
  const [open, setOpen] = useState<J | null>(null);
  const purpose = usePurpose();
  const kind = (k: string) => sMaybe(`rr.kind.${k}`, k);
  const status = (x: string) => sMaybe(`rr.status.${x}`, x);
  const reqs = [...(q.data?.requests ?? [])].sort((a, b) => (a.due_at ?? '').localeCompare(b.due_at ?? ''));
  return (
    <>
      <Notices error={q.error} />
      <h2>{s('rr.queue')}</h2>
      {q.data && !reqs.length && <p class="muted">{s('rr.empty')}</p>}
      {reqs.length > 0 && (
        <Table
          caption={s('rr.queue')}
          head={[s('rr.kind'), s('rr.status'), s('rr.received'), s('rr.due'), s('rr.left'), '']}
          rows={reqs.map((r) => [
            kind(r.kind),
            status(r.status),
            when(r.received_at),
            when(r.due_at),
            daysLeft(r.due_at),
            <button
              type="button"
              class="secondary small-button"
              aria-label={s('rr.readName', { k: kind(r.kind), t: when(r.received_at) })}
              onClick={() =>
                purpose.ask(s('rr.what'), async (p) => setOpen(await get<S['StaffRightsRequest']>(`/rights-requests/${enc(r.id)}?purpose=${enc(p)}`)))
              }
            >
              {s('rr.read')}
            </button>,
          ])}
        />
      )}
      {purpose.dialog}
      {open && <RightsDetail r={open} status={status} kind={kind} onChange={(r) => (setOpen({ ...open, ...r }), q.reload())} />}
    </>
  );
}

function RightsDetail({ r, status, kind, onChange }: { r: J; status: (x: string) => string; kind: (k: string) => string; onChange: (r: J) => void }) {
  const [next, setNext] = useState('in_progress');
  const [answer, setAnswer] = useState('');
  const action = useAction();
  const final = r.status === 'done' || r.status === 'refused';
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => onChange(await post<S['RightsRequest']>(`/rights-requests/${enc(r.id)}/advance`, { status: next, answer: answer.trim() })));
    if (ok) {
      action.setInfo(s('rr.updated', { s: status(next) }));
      setAnswer('');
    }
  }
  return (
    <section aria-labelledby="rr-detail" class="card card-pad">
      <h2 id="rr-detail">{s('rr.details', { id: r.id })}</h2>
      <Facts
        rows={[
          [s('rr.kind'), kind(r.kind)],
          [s('rr.status'), status(r.status)],
          [s('rr.user'), r.user_id],
          [s('rr.text'), <span class="pre-wrap">{r.details}</span>],
          [s('rr.received'), when(r.received_at)],
          [s('rr.due'), when(r.due_at)],
          [s('rr.left'), final ? '—' : daysLeft(r.due_at)],
          [s('rr.verified'), when(r.verified_at)],
          [s('rr.answer'), r.answer ?? ''],
        ]}
      />
      {!final && (
        <form onSubmit={submit}>
          <Select
            id="rr-next"
            label={s('rr.advance')}
            value={next}
            onValue={setNext}
            options={(['in_progress', 'done', 'refused'] as const).map((x) => [x, s(`rr.to.${x}`)])}
          />
          <TextArea
            id="rr-answer"
            label={next === 'refused' ? s('rr.reasonLabel') : s('rr.answerLabel')}
            value={answer}
            onValue={setAnswer}
            required={next === 'refused'}
            maxLength={4000}
          />
          <Notices error={action.error} info={action.info} />
          <button type="submit" class="primary" disabled={action.busy || (next === 'refused' && !answer.trim())}>
            {s('rr.submit')}
          </button>
        </form>
      )}
      {final && <Notices info={action.info} />}
    </section>
  );
}

// ---- Reports & moderation ----

function Reports() {
  const [filter, setFilter] = useState('open');
  const q = useLoad(() => get<S['ReportList']>(`/reports${filter === 'open' ? '?status=open' : ''}`), [filter]);
  const [open, setOpen] = useState<J | null>(null);
  const purpose = usePurpose();
  const action = useAction();
  async function dismiss() {
    if (!open) return;
    const ok = await action.run(async () => setOpen(await post<S['Report']>(`/reports/${enc(open.id)}/dismiss`)));
    if (ok) {
      action.setInfo(s('rp.dismissed'));
      q.reload();
    }
  }
  const reports = q.data?.reports ?? [];
  return (
    <>
      <Select id="rp-filter" label={s('rp.filter')} value={filter} onValue={setFilter} options={[['open', s('rp.open')], ['all', s('rp.all')]]} />
      <Notices error={q.error} />
      {q.data && !reports.length && <p class="muted">{s('rp.empty')}</p>}
      {reports.length > 0 && (
        <Table
          caption={s('rp.list')}
          head={[s('f.kind'), s('f.id'), s('rr.status'), s('rr.received'), '']}
          rows={reports.map((r) => [
            r.target_kind,
            r.target_id,
            r.status,
            when(r.created_at),
            <button
              type="button"
              class="secondary small-button"
              aria-label={`${s('rp.read')}: ${s('rp.target', { k: r.target_kind, id: r.target_id })}`}
              onClick={() => purpose.ask(s('rp.what'), async (p) => setOpen(await get<S['Report']>(`/reports/${enc(r.id)}?purpose=${enc(p)}`)))}
            >
              {s('rp.read')}
            </button>,
          ])}
        />
      )}
      {purpose.dialog}
      {open && (
        <section class="card card-pad" aria-labelledby="rp-detail">
          <h2 id="rp-detail">{s('rp.target', { k: open.target_kind, id: open.target_id })}</h2>
          <Facts
            rows={[
              [s('rr.status'), open.status],
              [s('rp.reporter'), open.reporter_id],
              [s('rp.targetUser'), open.target_user_id],
              [s('rp.reason'), open.reason],
              [s('rp.content'), <span class="pre-wrap">{open.content}</span>],
              [s('rr.received'), when(open.created_at)],
            ]}
          />
          <Notices error={action.error} info={action.info} />
          {open.status === 'open' && (
            <button type="button" class="secondary" disabled={action.busy} onClick={dismiss}>
              {s('rp.dismiss')}
            </button>
          )}
          {open.target_user_id && <Moderate userId={open.target_user_id} reportId={open.id} onDone={q.reload} />}
        </section>
      )}
      <Moderate />
    </>
  );
}

function Moderate({ userId, reportId, onDone }: { userId?: string; reportId?: string; onDone?: () => void }) {
  const [user, setUser] = useState(userId ?? '');
  const [act, setAct] = useState('warn');
  const [days, setDays] = useState('');
  const [reason, setReason] = useState('');
  const action = useAction();
  const p = reportId ? `mod-${reportId}` : 'mod';
  async function submit(e: Event) {
    e.preventDefault();
    const body: J = { user_id: user.trim(), action: act, reason: reason.trim() };
    if (reportId) body.report_id = reportId;
    if (days && (act === 'restrict' || act === 'ban')) body.days = Number(days);
    const ok = await action.run(() => post<S['Moderation']>('/moderation-actions', body));
    if (ok) {
      action.setInfo(s('mod.done', { a: s(`mod.${act}` as SKey), u: user.trim() }));
      setReason('');
      onDone?.();
    }
  }
  return (
    <form onSubmit={submit} class={reportId ? '' : 'card card-pad'} aria-labelledby={`${p}-title`}>
      <h2 id={`${p}-title`}>{s('mod.title')}</h2>
      {!userId && <Field id={`${p}-user`} label={s('userId')} value={user} onValue={setUser} required />}
      <Select
        id={`${p}-action`}
        label={s('mod.action')}
        value={act}
        onValue={setAct}
        options={(['warn', 'restrict', 'ban', 'lift'] as const).map((x) => [x, s(`mod.${x}`)])}
      />
      {(act === 'restrict' || act === 'ban') && <Field id={`${p}-days`} label={s('mod.days')} inputMode="numeric" value={days} onValue={setDays} pattern="[0-9]*" />}
      <TextArea id={`${p}-reason`} label={s('mod.reason')} value={reason} onValue={setReason} required maxLength={1000} />
      <Notices error={action.error} info={action.info} />
      <button type="submit" class="primary" disabled={action.busy || reason.trim().length < 10 || !user.trim()}>
        {s('mod.submit')}
      </button>
    </form>
  );
}

// ---- Incidents ----

function Incidents() {
  const q = useLoad(() => get<S['IncidentList']>('/incidents'));
  const [summary, setSummary] = useState('');
  const [at, setAt] = useState('');
  const [cats, setCats] = useState('');
  const [users, setUsers] = useState('');
  const [shown, setShown] = useState<J | null>(null);
  const action = useAction();
  const detail = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await action.run(async () => {
      const inc = await post<S['Incident']>('/incidents', { summary: summary.trim(), occurred_at: iso(at), categories: csv(cats), user_ids: list(users) });
      setShown(inc);
    });
    if (ok) {
      action.setInfo(s('in.recorded'));
      setSummary('');
      setCats('');
      setUsers('');
      q.reload();
    }
  }
  const incs = q.data?.incidents ?? [];
  return (
    <>
      <form class="card card-pad" onSubmit={submit} aria-labelledby="in-new">
        <h2 id="in-new">{s('in.new')}</h2>
        <TextArea id="in-summary" label={s('in.summary')} value={summary} onValue={setSummary} required maxLength={2000} />
        <DateTime id="in-when" label={s('in.when')} value={at} onValue={setAt} required />
        <Field id="in-cats" label={s('in.categories')} value={cats} onValue={setCats} required />
        <TextArea id="in-users" label={s('in.users')} value={users} onValue={setUsers} rows={2} />
        <Notices error={action.error} info={action.info} />
        <button type="submit" class="primary" disabled={action.busy || summary.trim().length < 10 || !at}>
          {s('in.submit')}
        </button>
      </form>
      <h2>{s('in.list')}</h2>
      <Notices error={q.error || detail.error} />
      {q.data && !incs.length && <p class="muted">{s('in.empty')}</p>}
      {incs.length > 0 && (
        <ul class="list card consents" aria-label={s('in.list')}>
          {incs.map((i) => (
            <li key={i.id} class="consent">
              <div>
                <p class="pre-wrap">{i.summary}</p>
                <p class="muted small">
                  {s('in.occurred', { t: when(i.occurred_at) })} · {s('in.recordedAt', { t: when(i.created_at) })} · {(i.categories ?? []).join(', ')}
                </p>
                <button
                  type="button"
                  class="secondary small-button"
                  aria-label={`${s('in.show')}: ${i.summary}`}
                  onClick={() => detail.run(async () => setShown(await get<S['Incident']>(`/incidents/${enc(i.id)}`)))}
                >
                  {s('in.show')}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {shown && (
        <section class="card card-pad" aria-labelledby="in-people">
          <h2 id="in-people">{s('in.people')}</h2>
          <p class="pre-wrap">{shown.summary}</p>
          {(shown.people ?? []).length ? (
            <Table
              caption={s('in.people')}
              head={[s('userId'), s('in.notified'), s('in.readAt')]}
              rows={(shown.people as J[]).map((p) => [p.user_id, when(p.notified_at), when(p.read_at)])}
            />
          ) : (
            <p class="muted">{s('none')}</p>
          )}
        </section>
      )}
    </>
  );
}

// ---- Legal holds and legal processing ----

function GroundSelect({ id, value, onValue }: { id: string; value: string; onValue: (v: string) => void }) {
  const g = useGrounds();
  return <Select id={id} label={s('h.ground')} value={value} onValue={onValue} options={GROUNDS.map((x) => [x, g[x] || x])} />;
}

function Holds() {
  const q = useLoad(() => get<S['HoldList']>('/holds'));
  const [kind, setKind] = useState('user');
  const [subject, setSubject] = useState('');
  const [ground, setGround] = useState(GROUNDS[2]);
  const [ref, setRef] = useState('');
  const action = useAction();
  const step = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await action.run(() => post<S['Hold']>('/holds', { subject_kind: kind, subject_id: subject.trim(), ground, reference: ref.trim() }));
    if (ok) {
      action.setInfo(s('h.created'));
      setSubject('');
      setRef('');
      q.reload();
    }
  }
  async function doStep(h: J, approve: boolean) {
    const ok = await step.run(() => post<S['Hold']>(`/holds/${enc(h.id)}/${approve ? 'approve' : 'release'}`));
    if (ok) {
      step.setInfo(approve ? s('h.approvedOk') : s('h.releasedOk'));
      q.reload();
    }
  }
  const holds = q.data?.holds ?? [];
  return (
    <>
      <form class="card card-pad" onSubmit={submit} aria-labelledby="h-new">
        <h2 id="h-new">{s('h.new')}</h2>
        <Select id="h-kind" label={s('h.subjectKind')} value={kind} onValue={setKind} options={[['user', s('h.user')], ['conversation', s('h.conversation')]]} />
        <Field id="h-subject" label={s('h.subjectId')} value={subject} onValue={setSubject} required />
        <GroundSelect id="h-ground" value={ground} onValue={setGround} />
        <Field id="h-ref" label={s('h.reference')} value={ref} onValue={setRef} required maxLength={200} />
        <Notices error={action.error} info={action.info} />
        <button type="submit" class="primary" disabled={action.busy || !subject.trim() || ref.trim().length < 3}>
          {s('h.submit')}
        </button>
      </form>
      <h2>{s('h.list')}</h2>
      <Notices error={q.error || step.error} info={step.info} />
      {q.data && !holds.length && <p class="muted">{s('h.empty')}</p>}
      {holds.length > 0 && (
        <ul class="list card consents" aria-label={s('h.list')}>
          {holds.map((h) => (
            <li key={h.id} class="consent">
              <div>
                <p>
                  <span class="consent-kind">
                    {sMaybe(`h.${h.subject_kind}`, h.subject_kind)} {h.subject_id}
                  </span>
                  <span class="badge">{sMaybe(`h.status.${h.status}`, h.status)}</span>
                </p>
                <p class="small">
                  {h.ground} · {h.reference}
                </p>
                <p class="muted small">
                  {s('h.requested', { u: h.requested_by, t: when(h.requested_at) })}
                  {h.approved_by && <> · {s('h.approved', { u: h.approved_by, t: when(h.approved_at) })}</>}
                  {h.released_by && <> · {s('h.released', { u: h.released_by, t: when(h.released_at) })}</>}
                </p>
                <div class="row-actions">
                  {h.status === 'pending' && (
                    <button type="button" class="secondary small-button" disabled={step.busy} aria-label={s('h.approveName', { r: h.reference })} onClick={() => doStep(h, true)}>
                      {s('h.approve')}
                    </button>
                  )}
                  {h.status !== 'released' && (
                    <button type="button" class="secondary small-button" disabled={step.busy} aria-label={s('h.releaseName', { r: h.reference })} onClick={() => doStep(h, false)}>
                      {s('h.release')}
                    </button>
                  )}
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Legal() {
  const [user, setUser] = useState('');
  const [ground, setGround] = useState(GROUNDS[2]);
  const [ref, setRef] = useState('');
  const [desc, setDesc] = useState('');
  const [defer, setDefer] = useState('');
  const action = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    const body: J = { user_id: user.trim(), ground, reference: ref.trim(), description: desc.trim() };
    if (defer) body.notification_deferred_until = iso(defer);
    const ok = await action.run(() => post<S['LegalProcessing']>('/legal-processing', body));
    if (ok) {
      action.setInfo(s('lp.recorded'));
      setDesc('');
      setRef('');
    }
  }
  return (
    <form class="card card-pad" onSubmit={submit}>
      <p>{s('lp.intro')}</p>
      <Field id="lp-user" label={s('userId')} value={user} onValue={setUser} required />
      <GroundSelect id="lp-ground" value={ground} onValue={setGround} />
      <Field id="lp-ref" label={s('h.reference')} value={ref} onValue={setRef} required maxLength={200} />
      <TextArea id="lp-desc" label={s('lp.description')} value={desc} onValue={setDesc} required maxLength={2000} />
      <DateTime id="lp-defer" label={s('lp.defer')} value={defer} onValue={setDefer} />
      <Notices error={action.error} info={action.info} />
      <button type="submit" class="primary" disabled={action.busy || !user.trim() || ref.trim().length < 3 || desc.trim().length < 10}>
        {s('lp.submit')}
      </button>
    </form>
  );
}

// ---- Recipients & sharing ----

function Sharing() {
  const rq = useLoad(() => get<S['RecipientList']>('/recipients'));
  const sq = useLoad(() => get<S['SharingRecordList']>('/sharing-records'));
  const [f, setF] = useState({ kind: 'partner', name: '', purpose: '', categories: '', region: '', deletion_url: '', delivery_url: '' });
  const set = (k: keyof typeof f) => (v: string) => setF((x) => ({ ...x, [k]: v }));
  const action = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    let secret = '';
    const body: J = { ...f, categories: csv(f.categories) };
    if (!f.delivery_url.trim()) delete body.delivery_url;
    const ok = await action.run(async () => {
      secret = (await post<S['Recipient']>('/recipients', body)).secret ?? '';
    });
    if (ok) {
      action.setInfo(s('sh.added', { s: secret || '—' }));
      setF((x) => ({ ...x, name: '', purpose: '', categories: '', deletion_url: '', delivery_url: '' }));
      rq.reload();
    }
  }
  const rs = rq.data?.recipients ?? [];
  const recs = sq.data?.records ?? [];
  return (
    <>
      <h2>{s('sh.recipients')}</h2>
      <Notices error={rq.error || sq.error} />
      {rq.data && !rs.length && <p class="muted">{s('sh.empty')}</p>}
      {rs.length > 0 && (
        <Table
          caption={s('sh.recipients')}
          head={[s('sh.name'), s('sh.kind'), s('sh.purpose').split(' (')[0].split('（')[0], s('sh.categories').split(' (')[0].split('（')[0], s('sh.region').split(' (')[0].split('（')[0], s('f.created')]}
          rows={rs.map((r) => [r.name, sMaybe(`sh.kind.${r.kind}`, r.kind), r.purpose, (r.categories ?? []).join(', '), r.region, when(r.created_at)])}
        />
      )}
      <form class="card card-pad" onSubmit={submit} aria-labelledby="sh-add">
        <h2 id="sh-add">{s('sh.add')}</h2>
        <Select id="sh-kind" label={s('sh.kind')} value={f.kind} onValue={set('kind')} options={(['affiliate', 'partner', 'sdk'] as const).map((k) => [k, s(`sh.kind.${k}`)])} />
        <Field id="sh-name" label={s('sh.name')} value={f.name} onValue={set('name')} required maxLength={100} />
        <TextArea id="sh-purpose" label={s('sh.purpose')} value={f.purpose} onValue={set('purpose')} required maxLength={500} />
        <Field id="sh-cats" label={s('sh.categories')} value={f.categories} onValue={set('categories')} required />
        <Field id="sh-region" label={s('sh.region')} value={f.region} onValue={set('region')} required maxLength={10} />
        <Field id="sh-del" label={s('sh.deletionUrl')} value={f.deletion_url} onValue={set('deletion_url')} required />
        <Field id="sh-deliv" label={s('sh.deliveryUrl')} value={f.delivery_url} onValue={set('delivery_url')} />
        <Notices error={action.error} info={action.info} />
        <button type="submit" class="primary" disabled={action.busy}>
          {s('sh.submit')}
        </button>
      </form>
      <h2>{s('sh.records')}</h2>
      {sq.data && !recs.length && <p class="muted">{s('sh.noRecords')}</p>}
      {recs.length > 0 && (
        <Table
          caption={s('sh.records')}
          head={[s('sh.recipient'), s('userId'), s('sh.categories').split(' (')[0].split('（')[0], s('sh.basis'), s('rr.status'), s('sh.deletion'), s('sh.at')]}
          rows={recs.map((r) => [
            r.recipient_name,
            r.user_id ?? '—',
            (r.categories ?? []).join(', '),
            [r.basis, r.reference].filter(Boolean).join(' · '),
            [r.status, r.refusal].filter(Boolean).join(': '),
            r.deletion ? `${when(r.deletion.requested_at)}${r.deletion.acked_at ? ' ✓ ' + when(r.deletion.acked_at) : ''}` : '—',
            when(r.at),
          ])}
        />
      )}
    </>
  );
}

// ---- Announcements ----

function Announce() {
  const [kind, setKind] = useState('general');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const action = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await action.run(() => post<S['Announcement']>('/announcements', { kind, title: title.trim(), body: body.trim() }));
    if (ok) {
      action.setInfo(s('an.sent'));
      setTitle('');
      setBody('');
    }
  }
  return (
    <form class="card card-pad" onSubmit={submit}>
      <Select id="an-kind" label={s('an.kind')} value={kind} onValue={setKind} options={[['general', s('an.general')], ['policy', s('an.policy')]]} />
      <Field id="an-title" label={s('an.title')} value={title} onValue={setTitle} required maxLength={200} />
      <TextArea id="an-body" label={s('an.body')} value={body} onValue={setBody} required rows={5} maxLength={5000} />
      <Notices error={action.error} info={action.info} />
      <button type="submit" class="primary" disabled={action.busy || !title.trim() || !body.trim()}>
        {s('an.submit')}
      </button>
    </form>
  );
}

// ---- Statistics ----

function Stats() {
  const [days, setDays] = useState('30');
  const q = useLoad(() => get<S['Statistics']>(`/stats?days=${days}`), [days]);
  const st = q.data;
  const table = (caption: string, key: string, head: string, cells?: J[]) =>
    (cells ?? []).length ? (
      <Table caption={caption} head={[head, s('st.count')]} rows={(cells as J[]).map((c) => [c[key], String(c.count)])} />
    ) : (
      <p class="muted">{s('none')}</p>
    );
  return (
    <>
      <Select id="st-days" label={s('st.days')} value={days} onValue={setDays} options={['7', '30', '90', '366'].map((n) => [n, s('st.daysN', { n })])} />
      <Notices error={q.error} />
      {st && (
        <>
          <p class="hint">{s('st.note', { k: st.k })}</p>
          <p class="muted small">{s('st.generated', { t: when(st.generated_at) })}</p>
          <h2>{s('st.active')}</h2>
          {table(s('st.active'), 'day', s('st.day'), st.active_users_per_day)}
          <h2>{s('st.messages')}</h2>
          {table(s('st.messages'), 'kind', s('st.kind'), st.messages_per_kind)}
          <h2>{s('st.posts')}</h2>
          {table(s('st.posts'), 'day', s('st.day'), st.posts_per_day)}
        </>
      )}
    </>
  );
}

// ---- Audit log ----

function Audit() {
  const [user, setUser] = useState('');
  const [entries, setEntries] = useState<J[] | null>(null);
  const purpose = usePurpose();
  function read(e: Event) {
    e.preventDefault();
    const u = user.trim();
    purpose.ask(u ? `${s('au.what')} (${u})` : s('au.what'), async (p) => {
      const r = await get<S['AuditLog']>(`/audit?purpose=${enc(p)}&limit=200${u ? `&user_id=${enc(u)}` : ''}`);
      setEntries(r.entries ?? []);
    });
  }
  return (
    <>
      <form class="card card-pad" onSubmit={read}>
        <Field id="au-user" label={s('au.filter')} value={user} onValue={setUser} />
        <button type="submit" class="primary">
          {s('au.read')}
        </button>
      </form>
      {purpose.dialog}
      {entries && !entries.length && <p class="muted">{s('none')}</p>}
      {entries && entries.length > 0 && (
        <Table
          caption={s('au.entries')}
          head={[s('au.at'), s('au.actor'), s('au.action'), s('au.subject'), s('au.target'), s('au.purpose')]}
          rows={entries.map((e) => [
            when(e.at),
            [e.actor_role && roleName(e.actor_role), e.actor_id].filter(Boolean).join(' · '),
            e.action,
            e.subject_id || '—',
            e.target || '—',
            [e.purpose, e.reference, e.description, e.note].filter(Boolean).join(' · ') || '—',
          ])}
        />
      )}
    </>
  );
}

// ---- Staff ----

const ROLES = ['support', 'moderator', 'privacy_officer', 'admin'];

function Staff() {
  const q = useLoad(() => get<S['StaffList']>('/staff'));
  const action = useAction();
  const [roles, setRoles] = useState<Record<string, string>>({});
  async function setRole(m: J) {
    const role = roles[m.user_id] ?? m.role;
    if (await action.run(() => request<S['StaffMember']>('PUT', `${A}/staff/${enc(m.user_id)}`, { body: { role } }))) {
      action.setInfo(s('sf.changed'));
      q.reload();
    }
  }
  async function remove(m: J) {
    if (await action.run(() => request<void>('DELETE', `${A}/staff/${enc(m.user_id)}`))) {
      action.setInfo(s('sf.removed'));
      q.reload();
    }
  }
  const staff = q.data?.staff ?? [];
  return (
    <>
      <p class="hint">{s('sf.cli')}</p>
      <Notices error={q.error || action.error} info={action.info} />
      {staff.length > 0 && (
        <Table
          caption={s('sf.list')}
          head={[s('sf.username'), s('sf.role'), s('sf.added'), '']}
          rows={staff.map((m) => [
            m.username,
            <select
              aria-label={s('sf.roleOf', { u: m.username })}
              value={roles[m.user_id] ?? m.role}
              onChange={(e) => setRoles((r) => ({ ...r, [m.user_id]: (e.currentTarget as HTMLSelectElement).value }))}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {roleName(r)}
                </option>
              ))}
            </select>,
            when(m.added_at),
            <div class="row-actions">
              <button type="button" class="secondary small-button" disabled={action.busy} onClick={() => setRole(m)}>
                {s('sf.set')}
              </button>
              <button type="button" class="secondary small-button danger-text" disabled={action.busy} aria-label={s('sf.remove', { u: m.username })} onClick={() => remove(m)}>
                ×
              </button>
            </div>,
          ])}
        />
      )}
    </>
  );
}

// ---- Support tickets ----

function Tickets() {
  const q = useLoad(() => get<S['TicketList']>('/tickets'));
  const [open, setOpen] = useState<J | null>(null);
  const [reply, setReply] = useState('');
  const [close, setClose] = useState(false);
  const purpose = usePurpose();
  const action = useAction();
  async function send(e: Event) {
    e.preventDefault();
    if (!open) return;
    const ok = await action.run(() => post<S['Ticket']>(`/tickets/${enc(open.id)}/messages`, { body: reply.trim(), close }));
    if (ok) {
      action.setInfo(s('tk.sent'));
      setOpen({ ...open, messages: [...(open.messages ?? []), { id: String(Date.now()), author: 'staff', body: reply.trim(), at: new Date().toISOString() }] });
      setReply('');
      q.reload();
    }
  }
  const tickets = q.data?.tickets ?? [];
  return (
    <>
      <Notices error={q.error} />
      {q.data && !tickets.length && <p class="muted">{s('tk.empty')}</p>}
      {tickets.length > 0 && (
        <Table
          caption={s('tk.list')}
          head={[s('f.kind'), s('rr.status'), s('f.created'), '']}
          rows={tickets.map((tk) => [
            [tk.kind, tk.subject].filter(Boolean).join(' · '),
            tk.status,
            when(tk.created_at),
            <button
              type="button"
              class="secondary small-button"
              onClick={() => purpose.ask(s('tk.what'), async (p) => setOpen(await get<S['Ticket']>(`/tickets/${enc(tk.id)}?purpose=${enc(p)}`)))}
            >
              {s('tk.read')}
            </button>,
          ])}
        />
      )}
      {purpose.dialog}
      {open && (
        <section class="card card-pad" aria-labelledby="tk-detail">
          <h2 id="tk-detail">{[open.kind, open.subject].filter(Boolean).join(' · ')}</h2>
          <ul class="list">
            {(open.messages ?? []).map((m: J) => (
              <li key={m.id}>
                <p class="pre-wrap">{m.body}</p>
                <p class="muted small">
                  {m.author} · {when(m.at)}
                </p>
              </li>
            ))}
          </ul>
          <form onSubmit={send}>
            <TextArea id="tk-reply" label={s('tk.reply')} value={reply} onValue={setReply} required maxLength={4000} />
            <label class="check">
              <input type="checkbox" checked={close} onChange={(e) => setClose((e.currentTarget as HTMLInputElement).checked)} /> {s('tk.close')}
            </label>
            <Notices error={action.error} info={action.info} />
            <button type="submit" class="primary" disabled={action.busy || !reply.trim()}>
              {s('tk.send')}
            </button>
          </form>
        </section>
      )}
    </>
  );
}

// ---- Policy versions ----

function PolicyVersions() {
  const q = useLoad<Policy>(() => api.policy());
  return (
    <>
      <Notices error={q.error} />
      {q.data && (
        <>
          <p>
            {s('po.current', { v: q.data.version })}
            {q.data.published_at && <> · {s('po.published', { t: when(q.data.published_at) })}</>}
          </p>
          <PolicyText policy={q.data} />
        </>
      )}
      <p class="notice notice-info">{s('po.publish')}</p>
    </>
  );
}
