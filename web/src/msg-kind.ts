// The words for a message's kind ("[Picture]", "[Voice]" …) in one place, for
// the chat list's previews, quotes, chat history lines and favorites. It
// imports only strings, so chat.tsx, conv.tsx and favorites.tsx can all use
// it without importing one another.

import { vt } from './conv-text';
import { t } from './i18n';

/** The bracketed word for a message's kind ("[Picture]"); '' for text and unknown kinds. */
export function kindLabel(kind?: string): string {
  switch (kind) {
    case 'image':
      return t('chat.kind.image');
    case 'video':
      return t('chat.kind.video');
    case 'voice':
      return t('chat.kind.voice');
    case 'file':
      return t('chat.kind.file');
    case 'location':
      return t('chat.kind.location');
    case 'card':
      return t('chat.kind.card');
    case 'history':
      return `[${vt('kind.history')}]`;
    case 'system':
      return `[${vt('kind.system')}]`;
    case 'moment':
      return `[${vt('kind.moment')}]`;
  }
  return '';
}

/** "[Picture]" for non-text kinds, followed by the words if there are any; the words alone for text. */
export function shortPreview(kind: string | undefined, text: string | undefined): string {
  if (!kind || kind === 'text') return text ?? '';
  const k = kindLabel(kind) || `[${kind}]`;
  return text ? `${k} ${text}` : k;
}
