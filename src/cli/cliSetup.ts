import { type Config, ConfigError, loadConfig } from '../config.ts';
import { StartupError } from '../startup/StartupError.ts';
import { checkDatabaseConnection } from '../storage/describeDatabaseError.ts';
import { resolveDatabaseUrl } from './resolveDatabaseUrl.ts';

/** Prints `gatehouse <tool>: <problem>` for each problem on stderr and exits with `code`. */
export function failCli(tool: string, problems: string | readonly string[], code: number): never {
  for (const problem of typeof problems === 'string' ? [problems] : problems) {
    process.stderr.write(`gatehouse ${tool}: ${problem}\n`);
  }
  process.exit(code);
}

/**
 * The configuration a CLI needs: only the database is required in production (a CLI sends no
 * mail and keeps no session state). Invalid settings: one line each, exit 78.
 */
export function loadCliConfig(tool: string): Config {
  try {
    return loadConfig(process.env, { purpose: 'cli' });
  } catch (error) {
    if (error instanceof ConfigError) {
      failCli(
        tool,
        error.problems.map((p) => `invalid setting ${p}`),
        78,
      );
    }
    throw error;
  }
}

/**
 * The database URL, checked by connecting once: DATABASE_URL (`direct`: DATABASE_DIRECT_URL when
 * set, for what needs PostgreSQL itself rather than a pooler), or the embedded database of a
 * running `scripts/run start`. A problem is one line saying what to do, exit 1.
 */
export async function cliDatabaseUrl(
  tool: string,
  config: Config,
  direct = false,
): Promise<string> {
  let url: string;
  const viaDirect = direct && config.database.directUrl !== config.database.url;
  try {
    url =
      viaDirect && config.database.directUrl
        ? config.database.directUrl
        : resolveDatabaseUrl(config);
  } catch (error) {
    failCli(tool, (error as Error).message, 1);
  }
  const embedded = config.database.url === undefined;
  try {
    await checkDatabaseConnection({
      url,
      setting: embedded
        ? `the embedded PostgreSQL of DATA_DIR=${config.dataDir}`
        : viaDirect
          ? 'DATABASE_DIRECT_URL'
          : 'DATABASE_URL',
      connectTimeoutMs: config.database.connectTimeoutMs,
      ...(embedded
        ? {
            whenRefused:
              'start Gatehouse first (`scripts/run start`, in another terminal), or set DATABASE_URL',
          }
        : {}),
    });
  } catch (error) {
    if (error instanceof StartupError) failCli(tool, error.problems, 1);
    throw error;
  }
  return url;
}
