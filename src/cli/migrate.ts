import { migrate } from '../storage/migrate.ts';
import { cliDatabaseUrl, loadCliConfig } from './cliSetup.ts';

const config = loadCliConfig('migrate');
const result = await migrate(await cliDatabaseUrl('migrate', config), (m) =>
  process.stdout.write(`${m}\n`),
);
process.stdout.write(
  `migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied\n`,
);
