import type pg from 'pg';

/**
 * Whether `client` (connected) talks to PostgreSQL through a connection pooler such as PgBouncer.
 * PostgreSQL announces its own process id in BackendKeyData at connect; a pooler sits between
 * and invents its own cancel key, so the announced id and `pg_backend_pid()` differ. A TCP proxy
 * passes the key through and counts as direct, which it is (one client, one server session).
 */
export async function isBehindPooler(client: pg.Client): Promise<boolean> {
  // node-postgres keeps the BackendKeyData id on the client; its type declarations omit it.
  const announced = (client as pg.Client & { processID?: number | null }).processID;
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return announced !== rows[0]?.pid;
}

/**
 * The start-up problem when the connection used for `purpose` (migrations' session advisory
 * lock, LISTEN/NOTIFY) reaches a pooler: in transaction pooling those need one server session
 * for the life of the connection, which only a direct connection gives.
 */
export function pooledDirectConnectionProblem(purpose: string): string {
  return (
    `DATABASE_DIRECT_URL (unset: DATABASE_URL) reaches a connection pooler such as PgBouncer, ` +
    `not PostgreSQL itself, but ${purpose} needs a direct connection (a pooler in transaction ` +
    `mode hands each statement to any server session): set DATABASE_DIRECT_URL to the ` +
    `PostgreSQL server's own host and port (docs/pgbouncer.md)`
  );
}
