import { z } from 'zod';
import type { Passkey } from '../domain/SecondFactor.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Users' passkeys (table webauthn_credentials). The public key is read only for verification.

const passkeyRow = z.object({
  id: z.string(),
  user_id: z.string(),
  credential_id: z.instanceof(Buffer),
  display_name: z.string(),
  aaguid: z.string(),
  transports: z.array(z.string()),
  multi_device: z.boolean(),
  backed_up: z.boolean(),
  sign_count: z.coerce.number(),
  created_at: z.date(),
  last_used_at: z.date().nullable(),
});

function toPasskey(r: z.infer<typeof passkeyRow>): Passkey {
  return {
    id: r.id,
    userId: r.user_id,
    credentialId: r.credential_id,
    displayName: r.display_name,
    aaguid: r.aaguid,
    transports: r.transports,
    multiDevice: r.multi_device,
    backedUp: r.backed_up,
    signCount: r.sign_count,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

const COLUMNS = sql.fragment`
  id, user_id, credential_id, display_name, aaguid::text AS aaguid, transports, multi_device,
  backed_up, sign_count, created_at, last_used_at`;

/** Stores a new passkey; null when the credential id is registered already. */
export async function insertPasskey(
  db: Db,
  p: {
    userId: string;
    credentialId: Buffer;
    publicKey: Buffer;
    signCount: number;
    transports: string[];
    aaguid: string;
    multiDevice: boolean;
    backedUp: boolean;
    displayName: string;
  },
): Promise<Passkey | null> {
  const row = await db.maybeOne(sql.type(passkeyRow)`
    INSERT INTO webauthn_credentials (user_id, credential_id, public_key, sign_count, transports,
                                      aaguid, multi_device, backed_up, display_name)
    VALUES (${p.userId}, ${sql.binary(p.credentialId)}, ${sql.binary(p.publicKey)},
            ${p.signCount}, ${sql.array(p.transports, 'text')}, ${p.aaguid}, ${p.multiDevice},
            ${p.backedUp}, ${p.displayName})
    ON CONFLICT (credential_id) DO NOTHING
    RETURNING ${COLUMNS}`);
  return row && toPasskey(row);
}

/** The user's passkeys, newest first. */
export async function listPasskeysByUserId(db: Db, userId: string): Promise<Passkey[]> {
  const rows = await db.any(sql.type(passkeyRow)`
    SELECT ${COLUMNS} FROM webauthn_credentials WHERE user_id = ${userId}
    ORDER BY created_at DESC, id DESC`);
  return rows.map(toPasskey);
}

const passkeyPublicKeyRow = passkeyRow.extend({ public_key: z.instanceof(Buffer) });

/** The passkey with this credential id and its public key, or null; FOR UPDATE when asked. */
export async function findPasskeyByCredentialId(
  db: Db,
  credentialId: Buffer,
  forUpdate = false,
): Promise<(Passkey & { publicKey: Buffer }) | null> {
  const row = await db.maybeOne(sql.type(passkeyPublicKeyRow)`
    SELECT ${COLUMNS}, public_key FROM webauthn_credentials
    WHERE credential_id = ${sql.binary(credentialId)}
    ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  return row && { ...toPasskey(row), publicKey: row.public_key };
}

/** Records a successful use: the new counter, backup state and time. */
export async function updatePasskeyUsed(
  db: Db,
  id: string,
  signCount: number,
  backedUp: boolean,
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE webauthn_credentials
    SET sign_count = ${signCount}, backed_up = ${backedUp}, last_used_at = now()
    WHERE id = ${id}`);
}

/** Renames the user's passkey; null when the user has none with that id. */
export async function renamePasskey(
  db: Db,
  userId: string,
  id: string,
  displayName: string,
): Promise<Passkey | null> {
  const row = await db.maybeOne(sql.type(passkeyRow)`
    UPDATE webauthn_credentials SET display_name = ${displayName}
    WHERE id = ${id} AND user_id = ${userId}
    RETURNING ${COLUMNS}`);
  return row && toPasskey(row);
}

const idRow = z.object({ id: z.string() });

/** Deletes the user's passkey; false when the user has none with that id. */
export async function deletePasskey(db: Db, userId: string, id: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(idRow)`
    DELETE FROM webauthn_credentials WHERE id = ${id} AND user_id = ${userId} RETURNING id`);
  return row !== null;
}
