import { loadConfig } from '../config.ts';
import { migrate } from '../storage/migrate.ts';
import { resolveDatabaseUrl } from './resolveDatabaseUrl.ts';

const config = loadConfig();
const result = await migrate(resolveDatabaseUrl(config), (m) => process.stdout.write(`${m}\n`));
process.stdout.write(
  `migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied\n`,
);
