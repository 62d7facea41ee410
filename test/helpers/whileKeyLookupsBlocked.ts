import assert from 'node:assert/strict';
import { type ServiceError, status } from '@grpc/grpc-js';
import type pg from 'pg';
import { call, type Gatehouse } from './startGatehouse.ts';

/**
 * Runs `fn` while another transaction holds ACCESS EXCLUSIVE on api_key_secrets, so any key
 * lookup waits: whatever is answered meanwhile read no key. Checks first that the probe works:
 * ValidateToken of `control`, a credential that IS looked up, gets no answer within a second.
 */
export async function whileKeyLookupsBlocked(
  gh: Gatehouse,
  control: string,
  fn: () => Promise<void>,
): Promise<void> {
  const client: pg.PoolClient = await gh.db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE api_key_secrets IN ACCESS EXCLUSIVE MODE');
    const answer = await call(
      gh.auth,
      'validateToken',
      { accessToken: control },
      { deadlineMs: 1000 },
    ).then(
      () => 'answered',
      (e: ServiceError) => status[e.code],
    );
    assert.notEqual(answer, 'answered', 'a lookup waits for the lock (the probe works)');
    await fn();
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}
