/**
 * The work of a successful ExchangeApiKey that no implementation can skip (src/auth/exchangeApiKey.ts):
 * sign the key's access token with the server's own KeyStore code and active key (so algorithm,
 * key size and claims are the server's), then append the `api_key_exchange` audit row as
 * src/storage/audit.ts sends it, through a raw `pg` pool of the server's size. It does NOT speak
 * gRPC, authenticate the key, spend rate-limit budgets or validate rows with slonik: that is
 * what is measured. Signing runs on this process's libuv threadpool, sized like the server's.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createKeyStore } from '../../src/keys/createKeyStore.ts';
import { createLogger } from '../../src/log.ts';
import { createDatabase } from '../../src/storage/createDatabase.ts';
import { OpError } from '../lib/grpcUnary.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from '../workloads/Workload.ts';

/** insertAuditEvent's statement (src/storage/audit.ts) with the values recordAudit gives it. */
const AUDIT_SQL = `INSERT INTO audit_events (actor_user_id, actor_service_account_id, api_key_id,
                          subject_user_id, action, outcome, ip_address, user_agent,
                          request_id, details)
  VALUES ($1, $2, $3, $4, 'api_key_exchange', 'success', '127.0.0.1', 'gatehouse-bench', $5, $6::jsonb)`;

export async function signAndAuditWorkload(
  spec: Extract<WorkloadSpec, { kind: 'sign-and-audit' }>,
): Promise<Workload> {
  if (spec.claims.length === 0) throw new Error('sign-and-audit needs at least one key');
  const keyPool = await createDatabase({
    url: spec.databaseUrl,
    poolMax: 1,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
  });
  const keys = createKeyStore(
    keyPool,
    { ...spec.tokens, refreshSec: 3600, privateKeyFile: undefined },
    createLogger('silent'),
  );
  await keys.start();
  // The server's connection settings (src/storage/createDatabase.ts) minus slonik itself.
  const pool = new pg.Pool({
    connectionString: spec.databaseUrl,
    max: spec.poolMax,
    statement_timeout: 5000,
  });
  pool.on('error', () => {});
  let next = 0;
  return {
    async op() {
      const claims = spec.claims[next++ % spec.claims.length] as (typeof spec.claims)[number];
      const issued = await keys.signApiKeyToken({ ...claims, ttlSec: spec.ttlSec });
      const user = claims.principalType === 'user_api_key' ? claims.subject : null;
      try {
        await pool.query(AUDIT_SQL, [
          user,
          user === null ? claims.subject : null,
          claims.apiKeyId,
          user,
          randomUUID(),
          JSON.stringify({ token_id: issued.tokenId, roles: claims.roles.join(',') }),
        ]);
      } catch (error) {
        throw new OpError((error as { code?: string }).code ?? 'PG_ERROR', String(error));
      }
      return undefined;
    },
    async close() {
      keys.stop();
      await Promise.all([pool.end(), keyPool.end()]);
    },
  };
}
