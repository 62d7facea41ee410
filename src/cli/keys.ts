import { parseArgs } from 'node:util';
import { generateSigningKey, type SigningAlgorithm } from '../keys/generateSigningKey.ts';
import { createDatabase } from '../storage/createDatabase.ts';
import { findPublishedSigningKeys, rotateSigningKey } from '../storage/signingKeys.ts';
import { cliDatabaseUrl, failCli, loadCliConfig } from './cliSetup.ts';

const USAGE = `usage: scripts/run keys <command>
  list                       published keys (kid, algorithm, state)
  rotate [--algorithm ALG]   new signing key (RS256 | ES256 | EdDSA; default JWT_ALGORITHM);
                             the old key stays in the JWKS until its last token expires.
                             Running instances pick the change up within JWT_KEY_REFRESH_SEC.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { algorithm: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
const command = positionals[0];
if (values.help || (command !== 'list' && command !== 'rotate')) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 64);
}

const config = loadCliConfig('keys');
const algorithm = (values.algorithm ?? config.tokens.algorithm) as SigningAlgorithm;
if (!['RS256', 'ES256', 'EdDSA'].includes(algorithm)) {
  failCli('keys', `unsupported algorithm ${algorithm}: use RS256, ES256 or EdDSA`, 64);
}
const pool = await createDatabase({
  ...config.database,
  url: await cliDatabaseUrl('keys', config),
});
try {
  if (command === 'rotate') {
    const key = await generateSigningKey(algorithm);
    await rotateSigningKey(
      pool,
      key,
      (config.tokens.accessTtlSec + config.tokens.clockSkewSec) * 1000,
    );
    process.stdout.write(`new signing key ${key.kid} (${algorithm}) is active\n`);
  }
  for (const k of await findPublishedSigningKeys(pool)) {
    const state =
      k.retired_at === null ? 'active' : `retired, published until ${k.expires_at?.toISOString()}`;
    process.stdout.write(`${k.kid}  ${k.algorithm}  ${state}\n`);
  }
} finally {
  await pool.end();
}
