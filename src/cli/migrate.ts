import { StartupError } from '../startup/StartupError.ts';
import { migrate } from '../storage/migrate.ts';
import { cliDatabaseUrl, failCli, loadCliConfig } from './cliSetup.ts';

const config = loadCliConfig('migrate');
// A session advisory lock serialises migrations: PostgreSQL itself, never a pooler.
const url = await cliDatabaseUrl('migrate', config, true);
const result = await migrate(url, (m) => process.stdout.write(`${m}\n`)).catch((error: unknown) => {
  if (error instanceof StartupError) failCli('migrate', error.problems, 1);
  throw error;
});
process.stdout.write(
  `migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied\n`,
);
