/**
 * The SQL transaction of a successful Refresh (src/auth/refresh.ts, happy path), statement for
 * statement as the storage functions send it (src/storage/refreshTokens.ts, sessions.ts,
 * users.ts, audit.ts), through a raw `pg` pool of the server's size (DATABASE_POOL_MAX) at the
 * same concurrency. Like the server it hashes the presented token and makes a new one; it does
 * NOT sign an access token, rate-limit, speak gRPC or validate rows: that is what is measured.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { OpError, StopWorker } from '../lib/grpcUnary.ts';
import type { PgRefreshChain, WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from '../workloads/Workload.ts';

const TOKEN_COLUMNS = 'id, session_id, replaced_by_id, created_at, expires_at, used_at, revoked_at';
const SESSION_COLUMNS =
  'id, user_id, created_at, last_used_at, idle_expires_at, expires_at, revoked_at, ip_address, user_agent';
const USER_COLUMNS = `id, email, email_normalized, username, display_name, password_hash, roles, status,
  email_verified, failed_login_count, lockout_count, locked_until, created_at, updated_at,
  last_login_at`;

/** The statements of refresh.ts in order (findRefreshTokenByHashForUpdate ... insertAuditEvent). */
export const REFRESH_SQL = {
  lockToken: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
  session: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`,
  user: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1 AND status <> 'deleted'`,
  touchSession: `UPDATE sessions
    SET last_used_at = now(),
        idle_expires_at = LEAST(expires_at, now() + make_interval(secs => $1))
    WHERE id = $2
    RETURNING ${SESSION_COLUMNS}`,
  insertToken: `INSERT INTO refresh_tokens (session_id, token_hash, parent_id, expires_at)
    VALUES ($1, $2, $3, to_timestamp($4))
    RETURNING ${TOKEN_COLUMNS}`,
  markRotated: `UPDATE refresh_tokens SET used_at = COALESCE(used_at, now()), replaced_by_id = $1
    WHERE id = $2`,
  audit: `INSERT INTO audit_events (actor_user_id, subject_user_id, action, outcome, ip_address,
                              user_agent, request_id, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
} as const;

const sha256 = (token: string) => createHash('sha256').update(token).digest();

export function pgRefreshWorkload(
  spec: Extract<WorkloadSpec, { kind: 'pg-refresh' }>,
  concurrency: number,
): Workload {
  if (spec.chains.length < concurrency) {
    throw new Error(`pg-refresh needs ${concurrency} chains, got ${spec.chains.length}`);
  }
  const chains: PgRefreshChain[] = spec.chains.map((c) => ({ ...c }));
  // The server's connection settings (src/storage/createDatabase.ts) minus slonik itself.
  const pool = new pg.Pool({
    connectionString: spec.databaseUrl,
    max: spec.poolMax,
    statement_timeout: 5000,
    idle_in_transaction_session_timeout: 10_000,
  });
  pool.on('error', () => {});
  return {
    async op(worker) {
      const chain = chains[worker] as PgRefreshChain;
      const client = await pool.connect();
      try {
        await client.query('START TRANSACTION');
        const token = (await client.query(REFRESH_SQL.lockToken, [sha256(chain.refreshToken)]))
          .rows[0];
        if (!token || token.revoked_at !== null || token.used_at !== null) {
          throw new StopWorker('INVALID_TOKEN', `pg-refresh chain ${worker}: token not usable`);
        }
        const session = (await client.query(REFRESH_SQL.session, [token.session_id])).rows[0];
        if (!session || session.revoked_at !== null) {
          throw new StopWorker('INVALID_SESSION', `pg-refresh chain ${worker}: session not live`);
        }
        const user = (await client.query(REFRESH_SQL.user, [session.user_id])).rows[0];
        if (user?.status !== 'active') throw new StopWorker('INACTIVE_USER', 'user not active');
        const touched = (
          await client.query(REFRESH_SQL.touchSession, [spec.sessionIdleSec, session.id])
        ).rows[0];
        const next = `ghr_${randomBytes(32).toString('base64url')}`;
        const expiresAt = Math.min(touched.idle_expires_at.getTime(), touched.expires_at.getTime());
        const successor = (
          await client.query(REFRESH_SQL.insertToken, [
            session.id,
            sha256(next),
            token.id,
            String(expiresAt / 1000),
          ])
        ).rows[0];
        await client.query(REFRESH_SQL.markRotated, [successor.id, token.id]);
        await client.query(REFRESH_SQL.audit, [
          user.id,
          user.id,
          'refresh',
          'success',
          '127.0.0.1',
          'gatehouse-bench',
          randomUUID(),
          JSON.stringify({ session_id: session.id, grace_retry: false }),
        ]);
        await client.query('COMMIT');
        chain.refreshToken = next;
        return undefined;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        if (error instanceof OpError) throw error;
        throw new OpError((error as { code?: string }).code ?? 'PG_ERROR', String(error));
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
