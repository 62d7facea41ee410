/**
 * The URL with its password replaced by `***`, for messages and logs. Also masks what looks
 * like `user:password@` in a string that is not a proper URL (`user:pw@host/db` even parses as
 * a URL, with the scheme `user:` and the password in its path).
 */
export function maskUrlPassword(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') {
      url.password = '***';
      return url.toString();
    }
    if (value.includes('://')) return value;
  } catch {}
  const [, scheme = '', rest = ''] = /^([a-z][a-z0-9+.-]*:\/\/)?(.*)$/is.exec(value) ?? [];
  // Greedy up to the last '@': an unencoded '@' in the password must not leak its tail.
  return scheme + rest.replace(/^([^:/@]*):(.*)@/s, '$1:***@');
}
