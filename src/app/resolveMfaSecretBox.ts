import { createSecretBox, type SecretBox } from '../auth/createSecretBox.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { StartupError } from '../startup/StartupError.ts';
import { createAppSecretLoader } from '../storage/appSecrets.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { countTotpSecrets } from '../storage/totpFactors.ts';

const GENERATE = 'generate one with `openssl rand -base64 32`';

/**
 * The box TOTP secrets are sealed in: under MFA_ENCRYPTION_KEY; without it, in development and
 * test, under a key generated into this database's app_secrets (with a warning: a key beside
 * the ciphertext protects nothing); in production, none (enrolment answers MFA_NOT_CONFIGURED).
 * Production refuses to start without the key once any secret is stored (they could not be
 * checked, so those users could not sign in), and with a key that did not seal them.
 */
export async function resolveMfaSecretBox(
  config: Config,
  pool: DatabasePool,
  log: Logger,
): Promise<SecretBox | null> {
  const key = config.mfa.encryptionKey;
  if (key !== undefined) {
    const box = createSecretBox(key);
    const stored = await countTotpSecrets(pool, box.keyId);
    if (stored.otherKey > 0) {
      const problem =
        `MFA_ENCRYPTION_KEY: ${stored.otherKey} stored TOTP secret(s) were encrypted under ` +
        'another key and cannot be read with this one; set MFA_ENCRYPTION_KEY back to the key ' +
        'they were encrypted under';
      if (config.env === 'production') throw new StartupError(problem);
      log.warn(`${problem} (those users cannot complete two-factor sign-in)`);
    }
    return box;
  }
  if (config.env === 'production') {
    const stored = await countTotpSecrets(pool, null);
    if (stored.total > 0) {
      throw new StartupError(
        `MFA_ENCRYPTION_KEY: required when NODE_ENV=production and TOTP secrets are stored ` +
          `(${stored.total} in this database): without it they cannot be checked and those ` +
          'users cannot sign in. Set it to the base64 key they were encrypted under (for a new ' +
          `installation, ${GENERATE}).`,
      );
    }
    log.warn(
      `MFA_ENCRYPTION_KEY is unset: two-factor enrolment is refused (MFA_NOT_CONFIGURED); ${GENERATE} to offer it`,
    );
    return null;
  }
  log.warn(
    'MFA_ENCRYPTION_KEY is unset: TOTP secrets are encrypted under a key generated into this ' +
      `database (app_secrets), which protects nothing. For production, ${GENERATE}.`,
  );
  return createSecretBox(await createAppSecretLoader(pool, 'mfa_development_key')());
}
