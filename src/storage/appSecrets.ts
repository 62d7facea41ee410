import { z } from 'zod';
import { sql } from './sql.ts';
import type { Db } from './users.ts';

const secretRow = z.object({ secret: z.instanceof(Buffer) });

/**
 * The shared secret named `name`, created from `generate()` by whichever instance asks first
 * (a concurrent creator loses the insert and reads the winner's row), so all instances agree.
 */
export async function findOrCreateAppSecret(
  db: Db,
  name: string,
  generate: () => Buffer,
): Promise<Buffer> {
  await db.query(sql.typeAlias('void')`
    INSERT INTO app_secrets (name, secret) VALUES (${name}, ${sql.binary(generate())})
    ON CONFLICT (name) DO NOTHING`);
  return db.oneFirst(sql.type(secretRow)`SELECT secret FROM app_secrets WHERE name = ${name}`);
}
