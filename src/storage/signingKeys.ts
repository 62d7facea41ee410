import { z } from 'zod';
import type { DatabasePool } from './createDatabase.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const signingKeyRow = z.object({
  kid: z.string(),
  algorithm: z.string(),
  public_jwk: z.record(z.string(), z.unknown()),
  private_jwk: z.record(z.string(), z.unknown()),
  retired_at: z.date().nullable(),
  expires_at: z.date().nullable(),
});
export type SigningKeyRow = z.infer<typeof signingKeyRow>;

/** Keys still published: the active one and retired ones whose last token may be unexpired. */
export async function findPublishedSigningKeys(db: Db): Promise<readonly SigningKeyRow[]> {
  return db.any(sql.type(signingKeyRow)`
    SELECT kid, algorithm, public_jwk, private_jwk, retired_at, expires_at
    FROM signing_keys
    WHERE expires_at IS NULL OR expires_at > now()
    ORDER BY created_at DESC`);
}

const kidRow = z.object({ kid: z.string() });

/** Inserts a key as the active signer unless another key is active; returns whether it did. */
export async function insertSigningKeyIfNoneActive(
  db: Db,
  key: { kid: string; algorithm: string; publicJwk: object; privateJwk: object },
): Promise<boolean> {
  const row = await db.maybeOne(sql.type(kidRow)`
    INSERT INTO signing_keys (kid, algorithm, public_jwk, private_jwk)
    VALUES (${key.kid}, ${key.algorithm}, ${sql.jsonb(key.publicJwk as never)}, ${sql.jsonb(key.privateJwk as never)})
    ON CONFLICT DO NOTHING
    RETURNING kid`);
  return row !== null;
}

/**
 * Makes `key` the active signer: the current one retires and stays published for
 * `retainMs` (the longest an access token it signed can still be valid).
 */
export async function rotateSigningKey(
  pool: DatabasePool,
  key: { kid: string; algorithm: string; publicJwk: object; privateJwk: object },
  retainMs: number,
): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.typeAlias('void')`LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`);
    await tx.query(sql.typeAlias('void')`
      UPDATE signing_keys
      SET retired_at = now(), expires_at = now() + make_interval(secs => ${retainMs / 1000})
      WHERE retired_at IS NULL`);
    await tx.query(sql.typeAlias('void')`
      INSERT INTO signing_keys (kid, algorithm, public_jwk, private_jwk)
      VALUES (${key.kid}, ${key.algorithm}, ${sql.jsonb(key.publicJwk as never)}, ${sql.jsonb(key.privateJwk as never)})
      ON CONFLICT (kid) DO UPDATE SET retired_at = NULL, expires_at = NULL`);
  });
}
