let lastMs = Number.NaN;
let lastIso = '';
let secondStartMs = Number.NaN;
/** `YYYY-MM-DDTHH:MM:SS.` of the second `secondStartMs` begins. */
let secondPrefix = '';

/**
 * The current time as an ISO-8601 string, made at most once per millisecond: Heartbeat answers, boot answers and
 * event envelopes ask for it thousands of times a second. The date and time of day are formatted once per second
 * and the milliseconds appended: `Date.prototype.toISOString` costs about 7,000 instructions (it goes through
 * printf; bench/analysis.md, seventeenth round), the rest of a millisecond's string one concatenation.
 */
export function isoNow(): string {
  return isoAt(Date.now());
}

/** `new Date(ms).toISOString()`, for the clock's own milliseconds since 1970 (years 1970-9999). */
export function isoAt(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    const fraction = ms % 1000;
    const secondStart = ms - fraction;
    if (secondStart !== secondStartMs) {
      secondStartMs = secondStart;
      secondPrefix = new Date(secondStart).toISOString().slice(0, 20);
    }
    lastIso = `${secondPrefix}${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}Z`;
  }
  return lastIso;
}
