import pg from 'pg';
import { maskUrlPassword } from '../startup/maskUrlPassword.ts';
import { StartupError } from '../startup/StartupError.ts';
import { isBehindPooler } from './isBehindPooler.ts';

export interface DatabaseTarget {
  url: string;
  /** What the operator set: 'DATABASE_URL', or a description such as 'the embedded PostgreSQL'. */
  setting: string;
  connectTimeoutMs: number;
  /** What to do when the connection is refused, if not "start PostgreSQL" (embedded: start Gatehouse). */
  whenRefused?: string;
}

/** host:port (or the socket directory) the URL points at, as people write it. */
function where(url: string): { host: string; port: string; database: string; user: string } {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return {
      host: host.startsWith('[') ? host.slice(1, -1) : host,
      port: u.port || '5432',
      database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username),
      user: decodeURIComponent(u.username) || 'postgres',
    };
  } catch {
    return { host: '?', port: '?', database: '?', user: '?' };
  }
}

/** The error code of a pg/net error, looking into AggregateError (several addresses tried). */
function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; errors?: unknown[] } | null;
  if (e && typeof e.code === 'string') return e.code;
  if (e && Array.isArray(e.errors)) return codeOf(e.errors[0]);
  return undefined;
}

/**
 * One line saying why connecting to PostgreSQL failed and what to do, naming the setting, host
 * and port (password masked); null when the error is not a connection problem.
 */
function describeDatabaseError(error: unknown, target: DatabaseTarget): string | null {
  const { host, port, database, user } = where(target.url);
  const at = `PostgreSQL at ${host.includes(':') ? `[${host}]` : host}:${port}`;
  const isVariable = /^[A-Z_]+_URL$/.test(target.setting);
  const setting = isVariable ? `${target.setting}=${maskUrlPassword(target.url)}` : target.setting;
  const fixUrl = isVariable ? `fix ${target.setting}` : 'fix the setting';
  const message = error instanceof Error ? error.message : String(error);
  const line = (cause: string, fix: string) => `${at} (${setting}): ${cause}: ${fix}`;
  switch (codeOf(error)) {
    case 'ECONNREFUSED':
      return line(
        'connection refused (nothing listens there)',
        target.whenRefused ?? `start PostgreSQL, or ${fixUrl} to point at a running server`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return line(`host "${host}" not found (DNS)`, `check the host name, or ${fixUrl}`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return line(
        `no route or no answer (${codeOf(error)})`,
        'check the host, port and firewall, or that PostgreSQL listens on that address',
      );
    case '3D000':
      return line(
        `database "${database}" does not exist`,
        `create it (createdb -h ${host} -p ${port} -U ${user} ${database}), or ${fixUrl} to name an existing database`,
      );
    case '28P01':
      return line(
        `password authentication failed for user "${user}"`,
        `put the right user and password (percent-encoded) in the URL`,
      );
    case '28000':
      return line(
        `the server refused user "${user}" (${message})`,
        'use a role that exists and that pg_hba.conf admits from this host',
      );
    case '53300':
      return line('too many connections', 'close other clients or raise max_connections');
    case '57P03':
      return line(
        'the server is starting up or shutting down',
        'wait until it accepts connections, then start again',
      );
    default:
      break;
  }
  if (/timeout/i.test(message)) {
    return line(
      `no answer within ${target.connectTimeoutMs} ms (DATABASE_CONNECT_TIMEOUT_MS)`,
      'check the host, port and firewall, or that PostgreSQL listens on that address',
    );
  }
  if (/SSL|certificate|self.signed/i.test(message)) {
    return line(`TLS problem: ${message}`, 'fix sslmode / certificates in the URL');
  }
  return null;
}

/**
 * Connects once and asks for the backend's pid; a failure becomes a StartupError with one line
 * from describeDatabaseError (or the driver's message when it is not a known connection
 * problem). Says whether the URL reaches PostgreSQL through a connection pooler.
 */
export async function checkDatabaseConnection(
  target: DatabaseTarget,
): Promise<{ behindPooler: boolean }> {
  const client = new pg.Client({
    connectionString: target.url,
    connectionTimeoutMillis: target.connectTimeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return { behindPooler: await isBehindPooler(client) };
  } catch (error) {
    const line =
      describeDatabaseError(error, target) ??
      `PostgreSQL (${/^[A-Z_]+_URL$/.test(target.setting) ? `${target.setting}=${maskUrlPassword(target.url)}` : target.setting}): ${(error as Error).message}`;
    throw new StartupError(line, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}
