import { ConnectError, type Interceptor } from '@connectrpc/connect';

/**
 * The opt-in browser mode (CONNECT_REFRESH_COOKIE): page scripts never see a refresh token.
 * For a browser's call — one with an Origin the CORS allow-list admitted — a response's
 * `tokens.refresh_token` leaves as an HttpOnly, Secure, SameSite=Strict `__Host-` cookie and
 * is blanked in the message; Refresh and Logout without a refresh token in the message use the
 * cookie. Logout, and a Refresh the cookie's token no longer opens, clear it. Calls from
 * servers (no Origin) are unchanged.
 */
export const REFRESH_COOKIE = '__Host-gatehouse-refresh';

const AUTH_SERVICE = 'gatehouse.auth.v1.AuthService';
/** The requests whose `refresh_token` the cookie may supply. */
const READS_COOKIE = new Set(['Refresh', 'Logout']);

interface TimestampLike {
  seconds: bigint;
}
interface TokensLike {
  refreshToken: string;
  refreshTokenExpiresAt?: TimestampLike;
}

function readCookie(header: string | null): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === REFRESH_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

const setCookie = (value: string, maxAgeSec: number) =>
  `${REFRESH_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSec}; HttpOnly; Secure; SameSite=Strict`;
const clearCookie = () => setCookie('', 0);

export function createRefreshCookieInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (req.stream || req.service.typeName !== AUTH_SERVICE || req.header.get('origin') === null) {
      return next(req);
    }
    const method = req.method.name;
    const message = req.message as unknown as Record<string, unknown>;
    let fromCookie = false;
    if (READS_COOKIE.has(method) && !message.refreshToken) {
      const token = readCookie(req.header.get('cookie'));
      if (token !== undefined) {
        message.refreshToken = token;
        fromCookie = true;
      }
    }
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (error) {
      // A cookie that no longer opens a session is of no use to keep.
      if (fromCookie && method === 'Refresh' && error instanceof ConnectError) {
        error.metadata.append('set-cookie', clearCookie());
      }
      throw error;
    }
    if (res.stream) return res;
    if (method === 'Logout') {
      res.header.append('set-cookie', clearCookie());
      return res;
    }
    const tokens = (res.message as unknown as { tokens?: TokensLike }).tokens;
    if (tokens?.refreshToken) {
      const expires = Number(tokens.refreshTokenExpiresAt?.seconds ?? 0n);
      const maxAge = Math.max(0, expires - Math.floor(Date.now() / 1000));
      res.header.append('set-cookie', setCookie(tokens.refreshToken, maxAge));
      tokens.refreshToken = '';
    }
    return res;
  };
}
