import type { FormatDefinition } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';
import addFormatsImport from 'ajv-formats';

const plugin: FormatsPlugin = (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);
/** ajv-formats' exact RFC 3339 check ("full" mode): it knows 30 February and leap seconds, and needs a zone. */
const full = plugin.get('date-time', 'full') as FormatDefinition<string> & { validate: (value: string) => boolean };

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Where `YYYY-MM-DDTHH:MM:SS` has digits. */
const DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

const isDigit = (c: number) => c >= 48 && c <= 57;
const two = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);

/**
 * The shape nearly every charger sends, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, checked character by character; true
 * only when it is that shape and a real instant. Anything else (offsets, lower case, leap seconds, garbage) is
 * not judged here.
 */
function isCommonUtcDateTime(s: string): boolean {
  const n = s.length;
  if (n < 20 || s.charCodeAt(n - 1) !== 90 /* Z */) return false;
  for (const i of DIGIT_AT) if (!isDigit(s.charCodeAt(i))) return false;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  if (n > 20) {
    // A fraction: a dot and at least one digit, then the Z.
    if (s.charCodeAt(19) !== 46 || n === 21) return false;
    for (let i = 20; i < n - 1; i++) if (!isDigit(s.charCodeAt(i))) return false;
  }
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month])) return false;
  return two(s, 11) <= 23 && two(s, 14) <= 59 && two(s, 17) <= 59;
}

/**
 * The `date-time` format the gateway validates with: exactly ajv-formats' full RFC 3339 check, with the common
 * UTC shape answered first without its regular expressions and string split (in a profile of the flood, the
 * date-time checks cost about as much as the rest of a MeterValues validation together). Whatever the fast path
 * does not accept goes to the full check, so the answers are the same.
 */
export const dateTimeFormat: FormatDefinition<string> = {
  type: 'string',
  validate: (value: string) => isCommonUtcDateTime(value) || full.validate(value),
  ...(full.compare !== undefined ? { compare: full.compare } : {}),
};
