import { randomUUID } from 'node:crypto';
import { call, type Gatehouse } from '../../../test/helpers/startGatehouse.ts';
import { registerUser } from '../../../test/helpers/users.ts';

/** An admin's access token (a registered user given the admin role by SQL, as an operator could). */
export async function adminToken(gh: Gatehouse): Promise<string> {
  const u = await registerUser(gh);
  await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
  return u.tokens.accessToken;
}

/**
 * A service account holding `roles` and one API key of it, made through
 * ServiceAccountAdminService.
 */
export async function serviceAccountKey(
  gh: Gatehouse,
  token: string,
  roles: string[] = [],
): Promise<{ serviceAccountId: string; apiKeyId: string; secret: string }> {
  const sa = await call(
    gh.serviceAccounts,
    'createServiceAccount',
    { name: `sa-${randomUUID().slice(0, 8)}`, displayName: '', description: '', roles },
    { token },
  );
  const serviceAccountId = sa.serviceAccount?.id ?? '';
  const key = await call(
    gh.serviceAccounts,
    'createServiceAccountKey',
    { serviceAccountId, displayName: '', roles: [] },
    { token },
  );
  return { serviceAccountId, apiKeyId: key.apiKey?.id ?? '', secret: key.secret };
}

/**
 * The verifier's own credential: a service account whose global role grants
 * `revocations:watch`, the permission WatchRevocations requires.
 */
export async function watcherKey(gh: Gatehouse, token: string): Promise<string> {
  const role = `revocation-watcher-${randomUUID().slice(0, 8)}`;
  await gh.db.query(
    `INSERT INTO permissions (name) VALUES ('revocations:watch') ON CONFLICT DO NOTHING`,
  );
  await gh.db.query(
    `WITH r AS (INSERT INTO roles (name, scope) VALUES ($1, 'global') RETURNING id)
     INSERT INTO role_permissions (role_id, permission) SELECT id, 'revocations:watch' FROM r`,
    [role],
  );
  return (await serviceAccountKey(gh, token, [role])).secret;
}
