// Password strength as the server enforces it (R-ACC-3): at least 8 characters
// using 3 of the 4 classes (lowercase, uppercase, digit, symbol), or 16+ of any.

export type CharClass = 'lower' | 'upper' | 'digit' | 'symbol';
export const CLASSES: CharClass[] = ['lower', 'upper', 'digit', 'symbol'];

export interface Strength {
  length: number;
  has: Record<CharClass, boolean>;
  /** How many classes are present. */
  count: number;
  ok: boolean;
  /** Classes not yet used, shown to the person while typing. */
  missing: CharClass[];
  /** How many more classes an 8–15 character password needs. */
  needClasses: number;
  /** It contains the username, phone number or nickname (the server refuses that). */
  personal: boolean;
  /** Over the server's 128-byte limit. */
  tooLong: boolean;
}

export const MIN_LENGTH = 8;
export const LONG_LENGTH = 16;

export const MAX_BYTES = 128;
const MIN_RELATED = 4;

/**
 * The forms of the person's own details a password must not contain, as the
 * server checks them: each value of 4+ characters, and for a phone number in
 * E.164 form also its digits without "+" and without the country code (which
 * has 1 to 3 digits; trying each length costs nothing).
 */
function relatedForms(values: string[]): string[] {
  const forms: string[] = [];
  for (const raw of values) {
    const v = raw.trim();
    forms.push(v);
    if (/^\+\d{8,15}$/.test(v)) for (let cc = 0; cc <= 3; cc++) forms.push(v.slice(1 + cc));
  }
  return forms.filter((f) => Array.from(f).length >= MIN_RELATED).map((f) => f.toLowerCase());
}

export function strength(pw: string, related: string[] = []): Strength {
  const has: Record<CharClass, boolean> = { lower: false, upper: false, digit: false, symbol: false };
  let length = 0;
  for (const ch of pw) {
    length++; // count code points, not UTF-16 units
    if (/\p{Ll}/u.test(ch)) has.lower = true;
    else if (/\p{Lu}/u.test(ch)) has.upper = true;
    else if (/\p{Nd}/u.test(ch)) has.digit = true;
    else has.symbol = true;
  }
  const count = CLASSES.filter((c) => has[c]).length;
  const lower = pw.toLowerCase();
  const personal = relatedForms(related).some((f) => lower.includes(f));
  const tooLong = new TextEncoder().encode(pw).length > MAX_BYTES;
  const ok = !personal && !tooLong && (length >= LONG_LENGTH || (length >= MIN_LENGTH && count >= 3));
  return { length, has, count, ok, missing: CLASSES.filter((c) => !has[c]), needClasses: Math.max(0, 3 - count), personal, tooLong };
}
