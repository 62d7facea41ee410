import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.ts';

/**
 * DATABASE_URL, or the embedded development database of a running `scripts/run start` (its password
 * is kept in DATA_DIR/embedded-postgres.json). Throws with a hint when there is neither.
 */
export function resolveDatabaseUrl(config: Config): string {
  if (config.database.url !== undefined) return config.database.url;
  const secret = join(resolve(config.dataDir), 'embedded-postgres.json');
  if (existsSync(secret)) {
    const { password } = JSON.parse(readFileSync(secret, 'utf8')) as { password: string };
    return `postgres://gatehouse:${encodeURIComponent(password)}@127.0.0.1:${config.database.embeddedPort}/gatehouse`;
  }
  throw new Error(
    `DATABASE_URL is not set and DATA_DIR=${config.dataDir} holds no embedded development database: start Gatehouse once (\`scripts/run start\`), or set DATABASE_URL`,
  );
}
