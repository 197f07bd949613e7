// Message text with its web addresses as links. Only http and https become
// links (never javascript:, data: or anything else), they open in a new tab
// with rel="noopener noreferrer", and Preact escapes the text, so a message can
// add nothing to the page but text and plain links.

const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
// Punctuation that ends a sentence rather than the address.
const TRAIL = /[.,;:!?'")\]}>。，；：！？」』）]+$/;

export function splitLinks(text: string): (string | { href: string; text: string })[] {
  const out: (string | { href: string; text: string })[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let s = m[0];
    const trail = s.match(TRAIL);
    if (trail) s = s.slice(0, s.length - trail[0].length);
    // Keep a closing bracket that belongs to the address, as in Wikipedia links.
    if (trail && trail[0].startsWith(')') && s.includes('(') && !s.includes(')')) s += ')';
    let ok = false;
    try {
      const u = new URL(s);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
    } catch {
      ok = false;
    }
    if (!ok) continue;
    const at = m.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    out.push({ href: s, text: s });
    last = at + s.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function RichText({ text }: { text: string }) {
  return (
    <span class="text" dir="auto">
      {splitLinks(text).map((p) =>
        typeof p === 'string' ? (
          p
        ) : (
          <a href={p.href} target="_blank" rel="noopener noreferrer nofollow">
            {p.text}
          </a>
        ),
      )}
    </span>
  );
}
