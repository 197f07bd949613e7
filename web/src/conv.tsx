// The conversation features of issue 15 that the chat screen uses: quotes
// (reply), mentions (the @ picker, highlighting, the "[@you]" marker),
// forwarding (the chat picker, "one by one" or "merged") and the merged chat
// history's reader. Part of the lazily loaded chat chunk.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { convApi } from './api-conv';
import { chat, type Conversation, type HistoryItem, type Member, type Message } from './api';
import { Notices, useAction } from './components';
import { vt } from './conv-text';
import { t } from './i18n';
import { kindLabel, shortPreview } from './msg-kind';
import { onFrame } from './realtime';
import { splitLinks } from './richtext';
import { displayName, shortTime } from './ui';

// ---------------------------------------------------------------- quotes

/**
 * The quoted block inside a reply's bubble: who, what kind, a short preview.
 * Activating it shows the original (the chat loads older pages as needed).
 * A recalled original, or one whose sender is gone, reads as unavailable.
 */
export function Quote({ q, name, onOpen }: { q: NonNullable<Message['reply_to']>; name: string; onOpen: (seq: number) => void }) {
  if (q.unavailable)
    return (
      <span class="quote quote-gone" data-quote-seq={q.seq}>
        {vt('quoteGone')}
      </span>
    );
  // The server's preview of a picture or a voice note is its own "[picture]": the
  // reader's language names the kind instead.
  const text = !q.kind || q.kind === 'text' ? q.preview ?? '' : kindLabel(q.kind) || `[${q.kind}]`;
  return (
    <button type="button" class="quote" data-quote-seq={q.seq} onClick={() => onOpen(q.seq)}>
      <span class="sr-only">{vt('quoteOf')} </span>
      <span class="quote-name">{name}</span>
      <span class="quote-text" dir="auto">
        {text}
      </span>
    </button>
  );
}

// -------------------------------------------------------------- mentions

/**
 * Message text with links (as RichText) and mentions highlighted: each
 * "@name" of a mentioned member, and "@all" for a mention of everyone. A
 * mention of the reader stands out more.
 */
export function MentionText({ text, names, mine }: { text: string; names: string[]; mine: boolean }) {
  const marks = names.filter(Boolean).sort((a, b) => b.length - a.length);
  const parts: preact.ComponentChildren[] = [];
  let k = 0;
  for (const p of splitLinks(text)) {
    if (typeof p !== 'string') {
      parts.push(
        <a key={k++} href={p.href} target="_blank" rel="noopener noreferrer nofollow">
          {p.text}
        </a>,
      );
      continue;
    }
    let rest = p;
    while (rest) {
      let at = -1;
      let hit = '';
      for (const n of marks) {
        const i = rest.indexOf(n);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          hit = n;
        }
      }
      if (at < 0) {
        parts.push(rest);
        break;
      }
      if (at > 0) parts.push(rest.slice(0, at));
      parts.push(
        <mark key={k++} class={mine ? 'mention mention-me' : 'mention'}>
          {hit}
        </mark>,
      );
      rest = rest.slice(at + hit.length);
    }
  }
  return (
    <span class="text" dir="auto">
      {parts}
    </span>
  );
}

/** The words "@all" can be written as, in either language. */
export const ALL_MARKS = ['@all', '@所有人'];

// Conversations with an unread mention of this person, learned from the
// "message" frames (mentioned: true) even when the chat is muted; kept for
// the tab's life and over a reload (sessionStorage), dropped once read.
const MENTION_KEY = 'tkesj.mentioned';
const mentioned = new Set<string>(
  (() => {
    try {
      return JSON.parse(sessionStorage.getItem(MENTION_KEY) ?? '[]') as string[];
    } catch {
      return [];
    }
  })(),
);
const mentionListeners = new Set<() => void>();
function saveMentions() {
  try {
    sessionStorage.setItem(MENTION_KEY, JSON.stringify([...mentioned]));
  } catch {
    // storage disabled: memory only
  }
  mentionListeners.forEach((f) => f());
}
onFrame((f) => {
  if (f.type === 'message' && f.mentioned && f.conversation_id) {
    mentioned.add(f.conversation_id);
    saveMentions();
  }
});

/** Whether a message mentions the person (by id, or everyone). */
export function mentionsMe(m: Message | undefined, me: string): boolean {
  return !!m && m.sender_id !== me && (!!m.mention_all || (m.mentions ?? []).includes(me));
}

/** Whether the chat list should say "[@you]" for a conversation. */
export function hasMention(cv: Conversation, me: string): boolean {
  if ((cv.unread ?? 0) === 0) return false;
  return !!cv.mentioned || mentioned.has(cv.id) || mentionsMe(cv.last_message, me);
}

export function clearMention(convId: string) {
  if (mentioned.delete(convId)) saveMentions();
}

export function useMentions() {
  const [, set] = useState(0);
  useEffect(() => {
    const f = () => set((n) => n + 1);
    mentionListeners.add(f);
    return () => mentionListeners.delete(f);
  }, []);
}

export interface MentionPick {
  id: string;
  name: string;
}

/** The "@query" being typed just before the caret, if any. */
export function mentionQuery(text: string, caret: number): { start: number; q: string } | null {
  const before = text.slice(0, caret);
  const m = before.match(/(^|\s)@([^\s@]{0,32})$/u);
  if (!m) return null;
  return { start: caret - m[2].length - 1, q: m[2] };
}

/**
 * The member list offered after "@" in a group's composer: members other
 * than the writer, filtered by what follows the "@", and "@all" for the
 * group's owner and admins. Arrow keys move, Enter or Tab picks, Esc closes
 * (the composer passes those keys here).
 */
export function MentionList({
  members,
  me,
  canAll,
  q,
  active,
  onPick,
}: {
  members: Member[];
  me: string;
  canAll: boolean;
  q: string;
  active: number;
  onPick: (p: MentionPick) => void;
}) {
  const opts = mentionOptions(members, me, canAll, q);
  if (!opts.length) return null;
  return (
    <ul class="mention-list card" role="listbox" id="mention-list" aria-label={vt('mentionList')}>
      {opts.map((o, i) => (
        <li
          key={o.id}
          id={`mention-opt-${i}`}
          role="option"
          aria-selected={i === active}
          class={i === active ? 'mention-opt active' : 'mention-opt'}
          onMouseDown={(e) => {
            e.preventDefault(); // keep the composer's focus
            onPick(o);
          }}
        >
          <span>@{o.name}</span>
          {o.id === '*' && <span class="muted small"> {vt('mentionAllHint')}</span>}
        </li>
      ))}
    </ul>
  );
}

export function mentionOptions(members: Member[], me: string, canAll: boolean, q: string): MentionPick[] {
  const s = q.toLowerCase();
  const out: MentionPick[] = [];
  if (canAll && (!s || vt('mentionAll').toLowerCase().startsWith(s) || 'all'.startsWith(s))) out.push({ id: '*', name: vt('mentionAll') });
  for (const m of members) {
    if (m.id === me || !m.username) continue;
    const name = displayName(m);
    if (!s || name.toLowerCase().includes(s) || (m.username ?? '').toLowerCase().includes(s) || (m.nickname ?? '').toLowerCase().includes(s)) out.push({ id: m.id, name });
    if (out.length >= 8) break;
  }
  return out;
}

// --------------------------------------------------------------- forward

/** The server's limits on one forward (API.md; conv's notes). */
export const MAX_TARGETS = 20;
export const MAX_FORWARD = 100;

/**
 * Forwarding: pick one or many chats, then "one by one" (each message on its
 * own) or "merged" (one chat-history message per chat) when several
 * messages are forwarded. POST /api/v1/forwards.
 */
export function ForwardDialog({ from, seqs, onClose, onDone }: { from: string; seqs: number[]; onClose: () => void; onDone: (n: number) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [list, setList] = useState<Conversation[] | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [q, setQ] = useState('');
  const [mode, setMode] = useState<'each' | 'merged'>(seqs.length > 1 ? 'merged' : 'each');
  const action = useAction();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    action.run(async () => setList((await chat.list()).conversations ?? []));
  }, []);
  const title = (cv: Conversation) => (cv.kind === 'group' ? cv.name || t('chat.group') : displayName(cv.peer));
  const shown = useMemo(() => {
    const s = q.trim().toLowerCase();
    return (list ?? []).filter((cv) => !(cv.kind === 'direct' && (cv.peer?.deleted || !cv.peer?.username)) && (!s || title(cv).toLowerCase().includes(s)));
  }, [list, q]);
  async function send() {
    if (!picked.length) {
      action.setError(vt('forwardNeedChat'));
      return;
    }
    const ok = await action.run(() => convApi.forward({ conversation_id: from, seqs: [...seqs].sort((a, b) => a - b) }, picked, seqs.length > 1 ? mode : 'each'));
    if (ok) {
      onDone(picked.length);
      ref.current?.close();
    }
  }
  return (
    <dialog ref={ref} class="dialog forward-dialog" aria-labelledby="forward-title" onClose={onClose}>
      <h2 id="forward-title">{vt('forwardTitle', { n: seqs.length })}</h2>
      {seqs.length > 1 && (
        <fieldset class="forward-mode">
          <legend>{vt('forwardMode')}</legend>
          <label class="check">
            <input type="radio" name="forward-mode" checked={mode === 'each'} onChange={() => setMode('each')} />
            {vt('forwardEach')}
          </label>
          <label class="check">
            <input type="radio" name="forward-mode" checked={mode === 'merged'} onChange={() => setMode('merged')} />
            {vt('forwardMerged')}
          </label>
        </fieldset>
      )}
      <div class="field">
        <label for="forward-search">{vt('forwardSearch')}</label>
        <input id="forward-search" type="search" value={q} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <fieldset class="forward-targets">
        <legend>{vt('forwardTo')}</legend>
        {list === null && !action.error && <p class="muted">{t('app.loading')}</p>}
        {shown.map((cv) => (
          <label key={cv.id} class="check">
            <input
              type="checkbox"
              checked={picked.includes(cv.id)}
              disabled={!picked.includes(cv.id) && picked.length >= MAX_TARGETS}
              onChange={(e) => setPicked((l) => ((e.currentTarget as HTMLInputElement).checked ? [...l, cv.id] : l.filter((x) => x !== cv.id)))}
            />
            <span dir="auto">{title(cv)}</span>
          </label>
        ))}
      </fieldset>
      {picked.length >= MAX_TARGETS && <p class="hint">{vt('forwardMax', { n: MAX_TARGETS })}</p>}
      <Notices error={action.error} />
      <div class="dialog-actions">
        <button type="button" class="secondary" onClick={() => ref.current?.close()}>
          {t('common.cancel')}
        </button>
        <button type="button" class="primary" disabled={action.busy || !picked.length} onClick={send}>
          {vt('forwardSend')}
          {picked.length > 0 && ` (${picked.length})`}
        </button>
      </div>
    </dialog>
  );
}

// --------------------------------------------------------- chat history

/** A merged forward in a bubble: the title and the first lines; opens the whole list. */
export function HistoryCard({ items }: { items: HistoryItem[] }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="history-card" onClick={() => setOpen(true)}>
        <span class="sr-only">{vt('historyOpen')} </span>
        <span class="history-title">{vt('historyTitle')}</span>
        {items.slice(0, 3).map((it, i) => (
          <span key={i} class="history-line small" dir="auto">
            {it.sender_name}: {shortPreview(it.kind, it.text)}
          </span>
        ))}
        <span class="history-count small muted">{vt('historyCount', { n: items.length })}</span>
      </button>
      {open && <HistoryDialog items={items} onClose={() => setOpen(false)} />}
    </>
  );
}

export function HistoryDialog({ items, onClose }: { items: HistoryItem[]; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog history-dialog"
      aria-labelledby="history-title"
      onClose={onClose}
      onClick={(e) => {
        if (e.target === ref.current) ref.current?.close();
      }}
    >
      <h2 id="history-title">{vt('historyTitle')}</h2>
      <ol class="history-list">
        {items.map((it, i) => (
          <li key={i}>
            <p class="history-meta small muted">
              <span dir="auto">{it.sender_name}</span> · <time dateTime={it.sent_at}>{shortTime(it.sent_at)}</time>
            </p>
            <p class="history-text" dir="auto">
              {shortPreview(it.kind, it.text)}
            </p>
          </li>
        ))}
      </ol>
      <div class="dialog-actions">
        <button type="button" class="secondary" autoFocus onClick={() => ref.current?.close()}>
          {t('common.close')}
        </button>
      </div>
    </dialog>
  );
}

// ---------------------------------------------------------- disappearing

export const DISAPPEAR = [0, 86400, 7 * 86400, 30 * 86400];

export function disappearLabel(s: number): string {
  if (!s) return vt('disappearOff');
  if (s === 86400) return vt('disappear1d');
  if (s === 7 * 86400) return vt('disappear7d');
  if (s === 30 * 86400) return vt('disappear30d');
  const d = Math.round(s / 86400);
  return d >= 1 ? `${d} d` : `${Math.round(s / 3600)} h`;
}
