import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const secretRow = z.object({ secret: z.instanceof(Buffer) });

/**
 * The shared secret named `name`, created from `generate()` by whichever instance asks first
 * (a concurrent creator loses the insert and reads the winner's row), so all instances agree.
 */
async function findOrCreateAppSecret(
  db: Db,
  name: string,
  generate: () => Buffer,
): Promise<Buffer> {
  await db.query(sql.typeAlias('void')`
    INSERT INTO app_secrets (name, secret) VALUES (${name}, ${sql.binary(generate())})
    ON CONFLICT (name) DO NOTHING`);
  return db.oneFirst(sql.type(secretRow)`SELECT secret FROM app_secrets WHERE name = ${name}`);
}

/**
 * A loader of the 256-bit app secret `name`: read (or created) on first use and kept for the
 * life of the process; a failed read is retried by the next call instead of being cached.
 */
export function createAppSecretLoader(db: Db, name: string): () => Promise<Buffer> {
  let stored: Promise<Buffer> | undefined;
  return () => {
    stored ??= findOrCreateAppSecret(db, name, () => randomBytes(32)).catch((error: unknown) => {
      stored = undefined;
      throw error;
    });
    return stored;
  };
}
