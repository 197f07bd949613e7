// English and Simplified Chinese strings of the lazily loaded chat, report and
// account screens, kept out of the first load (i18n.ts holds the rest).

import { lang } from './i18n';

const en = {
  pinned: 'Pinned',
  pickChat: 'Pick a chat on the left to read and reply.',
  allChats: 'All chats',
  viewPicture: 'Picture',
  viewVideo: 'Video',
  playVideo: 'Play video',
  today: 'Today',
  yesterday: 'Yesterday',
  sentAsFile: '“{name}” is not a picture or a video, so it is sent as a file.',
  cantDeliver: 'This chat no longer accepts messages.',
  failed: 'Not sent.',
  discard: 'Discard',
  waiting: 'Waiting for a connection… it will be sent when you are back online.',
  report: 'Report',
  newMessages: 'New messages',
  newOne: '1 new message',
  newMany: '{n} new messages',
  pictureOrVideo: 'Send a picture or a video',
  tooLong: 'Too long to send: {n} of at most {max} characters. Shorten it or split it into several messages.',
  counter: '{n} / {max} characters',
  enterHint: 'Enter sends · Shift+Enter starts a new line',
  'group.makeAdmin': 'Make {name} an admin',
  'group.unadmin': 'Remove {name} as admin',
  'group.nowAdmin': '{name} is now an admin.',
  'group.noLongerAdmin': '{name} is no longer an admin.',
  'group.remove': 'Remove',
  'group.removeName': 'Remove {name} from the group',
  'group.removeConfirm': 'Remove {name} from the group?',
  'group.removed': '{name} was removed from the group.',
  'report.person': 'Report {name}',
  'report.title.message': 'Report this message',
  'report.title.user': 'Report this person',
  'report.title.moment': 'Report this post',
  'report.reason': 'What is wrong?',
  'report.hint': 'Moderators read reports and act under the published rules. The person is not told who reported them.',
  'report.needReason': 'Say briefly what is wrong.',
  'report.send': 'Send report',
  'report.thanks': 'Thank you. The report was sent to the moderators.',
};

export type CKey = keyof typeof en;

const zh: Record<CKey, string> = {
  pinned: '置顶',
  pickChat: '在左侧选择一个聊天即可查看和回复。',
  allChats: '全部聊天',
  viewPicture: '图片',
  viewVideo: '视频',
  playVideo: '播放视频',
  today: '今天',
  yesterday: '昨天',
  sentAsFile: '“{name}”不是图片或视频，将作为文件发送。',
  cantDeliver: '此聊天已无法接收消息。',
  failed: '未发送。',
  discard: '删除',
  waiting: '等待网络连接… 恢复联网后会自动发送。',
  report: '举报',
  newMessages: '以下为新消息',
  newOne: '1 条新消息',
  newMany: '{n} 条新消息',
  pictureOrVideo: '发送图片或视频',
  tooLong: '内容过长，无法发送：{n} 字，最多 {max} 字。请删减或分成几条发送。',
  counter: '{n} / {max} 字',
  enterHint: 'Enter 发送 · Shift+Enter 换行',
  'group.makeAdmin': '设{name}为管理员',
  'group.unadmin': '取消{name}的管理员',
  'group.nowAdmin': '{name}已成为管理员。',
  'group.noLongerAdmin': '{name}已不再是管理员。',
  'group.remove': '移出',
  'group.removeName': '将{name}移出群聊',
  'group.removeConfirm': '将{name}移出群聊？',
  'group.removed': '已将{name}移出群聊。',
  'report.person': '举报{name}',
  'report.title.message': '举报这条消息',
  'report.title.user': '举报此人',
  'report.title.moment': '举报这条动态',
  'report.reason': '有什么问题？',
  'report.hint': '审核人员会依据公开的规则处理举报，不会告诉对方是谁举报的。',
  'report.needReason': '请简要说明问题。',
  'report.send': '提交举报',
  'report.thanks': '谢谢。举报已提交给审核人员。',
};

export function ct(key: CKey, params?: Record<string, string | number>): string {
  let s = (lang() === 'zh' ? zh : en)[key] ?? en[key];
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  return s;
}
