import type { FormatDefinition } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';
import addFormatsImport from 'ajv-formats';

const plugin: FormatsPlugin = (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);
/** ajv-formats' exact RFC 3339 check ("full" mode): it knows 30 February and leap seconds, and needs a zone. */
const full = plugin.get('date-time', 'full') as FormatDefinition<string> & { validate: (value: string) => boolean };

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYY-MM-DDTHH:MM:SS` by place: the separator each place must hold, 0 where a digit must be. */
const SHAPE = [0, 0, 0, 0, 45, 0, 0, 45, 0, 0, 84, 0, 0, 58, 0, 0, 58, 0, 0];
const FRACTION_DOT = 46;
/** Year, month, day, hour, minute, second of the text being checked (the check is synchronous). */
const fields = new Int32Array(6);

/**
 * The shape nearly every charger sends, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, checked character by character; true
 * only when it is that shape and a real instant. Anything else (offsets, lower case, leap seconds, garbage) is
 * not judged here.
 *
 * One loop reads every character at one place in the code. Written out place by place (a character test per
 * digit and per field), V8 inlined each string read with its checks of the string's kind, and the optimised
 * function came to almost 10 KB of machine code for under a thousand instructions run: in the counted flood it
 * missed the first-level code cache more than any other function of the gateway (bench/analysis.md, seventeenth
 * round).
 */
function isCommonUtcDateTime(s: string): boolean {
  const last = s.length - 1;
  // The Z; and a dot must be followed by at least one digit.
  if (last < 19 || last === 20 || s.charCodeAt(last) !== 90) return false;
  let value = 0;
  let field = 0;
  for (let i = 0; i < last; i++) {
    const c = s.charCodeAt(i);
    const separator = i < 19 ? SHAPE[i] : i === 19 ? FRACTION_DOT : 0;
    if (separator === 0) {
      if (c < 48 || c > 57) return false;
      // The fraction's digits are only checked: every second has all of them.
      if (i < 19) value = value * 10 + (c - 48);
    } else {
      if (c !== separator) return false;
      fields[field++] = value;
      value = 0;
    }
  }
  // Without a fraction the seconds end at the Z.
  if (last === 19) fields[5] = value;
  const year = fields[0];
  const month = fields[1];
  const day = fields[2];
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month])) return false;
  return fields[3] <= 23 && fields[4] <= 59 && fields[5] <= 59;
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
