import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.ts';
import { countActiveAdmins, findUserByIdentifier } from '../storage/users.ts';
import { type BootstrapDeps, createOrPromoteAdmin } from './createOrPromoteAdmin.ts';

const EMBEDDED_ADMIN_EMAIL = 'admin@gatehouse.local';

/**
 * Embedded development mode only: when no active admin exists, creates admin@gatehouse.local
 * with a random password and hands the message to `print` (stdout) exactly once. The password
 * never reaches the logger, and there is no default password.
 */
export async function ensureEmbeddedAdmin(
  deps: BootstrapDeps,
  log: Logger,
  print: (text: string) => void,
): Promise<void> {
  if ((await countActiveAdmins(deps.pool, null)) > 0) return;
  if ((await findUserByIdentifier(deps.pool, EMBEDDED_ADMIN_EMAIL)) !== null) {
    log.warn(
      `there is no active admin: create one with \`scripts/run admin create --email <address>\``,
    );
    return;
  }
  const { generatedPassword } = await createOrPromoteAdmin(
    deps,
    { email: EMBEDDED_ADMIN_EMAIL, roles: ['admin'], source: 'embedded' },
    { clientIp: '', userAgent: 'gatehouse-embedded', requestId: randomUUID() },
  );
  print(
    [
      '',
      `First start: created the admin account ${EMBEDDED_ADMIN_EMAIL} with the password`,
      `  ${generatedPassword}`,
      'It is shown only this once; store it now (change it with AuthService/ChangePassword).',
      `Lost it? While Gatehouse runs: scripts/run admin reset-password --email ${EMBEDDED_ADMIN_EMAIL}`,
      '',
    ].join('\n'),
  );
}
