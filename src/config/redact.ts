const SECRET_KEY = /(password|secret|token|credential|passphrase|key$)/i;
/** The password of a URL's user info (every URL of a comma-separated list). */
const URL_PASSWORD = /(\/\/[^/@:,]*:)[^/@,]*@/g;

/** A copy of the config fit for a log line: anything that looks like a secret is replaced. */
export function redactConfig(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => redactConfig(item, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  if (SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '') return '[redacted]';
  // Server URLs (natsUrl, redisUrl) may carry a password: `redis://user:secret@host` → `redis://user:[redacted]@host`.
  if (typeof value === 'string' && /Url$/.test(key)) return value.replace(URL_PASSWORD, '$1[redacted]@');
  return value;
}
