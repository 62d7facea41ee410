import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { StartupError } from '../startup/StartupError.ts';
import { isBehindPooler, pooledDirectConnectionProblem } from './isBehindPooler.ts';

/** Where the forward-only SQL migrations live. */
const migrationsDir = new URL('../../migrations/', import.meta.url).pathname;

// Arbitrary constant: every Gatehouse replica takes the same session lock, so replicas that
// start together apply migrations one after the other instead of racing.
const MIGRATION_LOCK_KEY = 0x6761_7465;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies every pending migration in name order, one transaction per file, under a session
 * advisory lock; refuses to start if an applied file's checksum changed.
 * Uses plain `pg` on purpose: migration files hold many statements, which slonik must not run.
 * `databaseUrl` must reach PostgreSQL directly (DATABASE_DIRECT_URL): through a transaction-mode
 * pooler the session lock would stay behind on whichever server session took it; refused.
 */
export async function migrate(
  databaseUrl: string,
  log: (msg: string) => void = () => {},
): Promise<MigrationResult> {
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    if (await isBehindPooler(client)) {
      throw new StartupError(
        pooledDirectConnectionProblem('migrating (a session advisory lock across statements)'),
      );
    }
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      sha256 text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ name: string; sha256: string }>(
      'SELECT name, sha256 FROM schema_migrations',
    );
    const done = new Map(rows.map((r) => [r.name, r.sha256]));
    const applied: string[] = [];
    for (const file of files) {
      const text = await readFile(join(migrationsDir, file), 'utf8');
      const sha256 = createHash('sha256').update(text).digest('hex');
      const recorded = done.get(file);
      if (recorded !== undefined) {
        if (recorded !== sha256) {
          throw new Error(
            `migration ${file} was changed after it was applied (checksum mismatch); add a new migration instead`,
          );
        }
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(text);
        await client.query('INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)', [
          file,
          sha256,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(file);
      log(`applied migration ${file}`);
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}
