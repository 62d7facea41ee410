/**
 * The SQL transaction of a successful Refresh (src/auth/refresh.ts, happy path), statement for
 * statement as the server sends it: the statements are the storage layer's own builders
 * (rotationStatements, auditStatement), so their text and
 * values cannot drift from the server's, sent through a raw `pg` pool of the server's size
 * (DATABASE_POOL_MAX) at the same concurrency. Like the server it hashes the presented token and
 * makes a new one; it does NOT sign an access token, rate-limit, speak gRPC or validate rows:
 * that is what is measured.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { auditStatement } from '../../src/storage/audit.ts';
import { rotationStatements } from '../../src/storage/rotation.ts';
import { OpError, StopWorker } from '../lib/grpcUnary.ts';
import type { PgRefreshChain, WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from '../workloads/Workload.ts';

/** What slonik sends for a built statement: its placeholders as `$N`, its values as bound. */
function toPg(statement: { sql: string; values: readonly unknown[] }): [string, unknown[]] {
  return [statement.sql.replaceAll('$slonik_', '$'), [...statement.values]];
}

// What the server records of the load generator's calls: its address and gRPC user agent.
const CLIENT = { clientIp: '127.0.0.1', userAgent: 'gatehouse-bench grpc-node-js/1.14.7' };

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
      const query = (statement: { sql: string; values: readonly unknown[] }) =>
        client.query(...toPg(statement));
      try {
        await client.query('START TRANSACTION');
        const locked = (await query(rotationStatements.lock(sha256(chain.refreshToken)))).rows[0];
        if (!locked || locked.token_revoked_at !== null || locked.token_used_at !== null) {
          throw new StopWorker('INVALID_TOKEN', `pg-refresh chain ${worker}: token not usable`);
        }
        if (locked.revoked_at !== null) {
          throw new StopWorker('INVALID_SESSION', `pg-refresh chain ${worker}: session not live`);
        }
        if (locked.user_status !== 'active') {
          throw new StopWorker('INACTIVE_USER', 'user not active');
        }
        const next = `ghr_${randomBytes(32).toString('base64url')}`;
        await query(
          rotationStatements.rotate({
            sessionId: locked.id,
            parentId: locked.token_id,
            successorHash: sha256(next),
            use: {
              idleTimeoutSec: spec.sessionIdleSec,
              ipAddress: CLIENT.clientIp,
              userAgent: CLIENT.userAgent,
            },
          }),
        );
        await query(
          auditStatement('refresh', {
            actor: locked.user_id,
            request: { ...CLIENT, requestId: randomUUID() },
            details: {
              session_id: locked.id,
              grace_retry: false,
              organization_id: locked.organization_id,
              organization_cleared: false,
            },
          }),
        );
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
