import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
} from '@simplewebauthn/server';
import { isAllowedOrigin } from '../config/webauthnConfig.ts';
import type { AuthMethodReference, Passkey, WebauthnChallenge } from '../domain/SecondFactor.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';

/*
 * What passkey sign-in and registration share: the relying party settings, the shape checks of
 * the JSON a browser relays, and the verification of an assertion against a stored passkey.
 */

/** How long a WebAuthn challenge (and the ceremony in the browser) may take. */
export const WEBAUTHN_CHALLENGE_TTL_SEC = 300;

/** The longest response_json accepted (a credential's JSON is a few KiB at most). */
const MAX_RESPONSE_JSON = 16_384;

/** The relying party: null rpId when passkeys are not configured. */
export interface WebauthnSettings {
  rpId: string | null;
  rpName: string;
  origins: readonly string[];
  /** The key of the made-up credential ids StartPasskeyLogin shows for unknown accounts. */
  decoyKey: () => Promise<Buffer>;
}

/** The configured RP id, or PASSKEYS_NOT_CONFIGURED. */
export function requireRpId(settings: WebauthnSettings): string {
  if (settings.rpId === null) {
    throw new AppError(
      'PASSKEYS_NOT_CONFIGURED',
      'passkeys are not available: the server has no WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS',
    );
  }
  return settings.rpId;
}

/** A new random challenge. */
export function newWebauthnChallenge(): Buffer {
  return randomBytes(32);
}

/** SHA-256 of an opaque challenge id: all that is stored. */
export function hashWebauthnChallengeId(id: string): Buffer {
  return createHash('sha256').update(id).digest();
}

// Not `ghk_`: that is the API key prefix secret scanners and the bearer parser look for.
const CHALLENGE_ID_PREFIX = 'ghwc_';

/** A new opaque challenge id (`ghwc_` and 256 random bits). */
export function newWebauthnChallengeId(): string {
  return `${CHALLENGE_ID_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Whether `id` has the shape of a challenge id (anything else is refused unread). */
export function isWebauthnChallengeIdShaped(id: string): boolean {
  return (
    id.length === CHALLENGE_ID_PREFIX.length + 43 &&
    id.startsWith(CHALLENGE_ID_PREFIX) &&
    /^[A-Za-z0-9_-]{43}$/.test(id.slice(CHALLENGE_ID_PREFIX.length))
  );
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function isB64(v: unknown, max = 8192): v is string {
  return typeof v === 'string' && v !== '' && v.length <= max && BASE64URL.test(v);
}

/** What the browser's client data says: the challenge it signed and the page's origin. */
export interface ClientData {
  type: string;
  challenge: Buffer;
  origin: string;
}

function clientDataOf(clientDataJSON: string): ClientData | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { type, challenge, origin } = parsed as Record<string, unknown>;
    if (typeof type !== 'string' || !isB64(challenge, 128) || typeof origin !== 'string') {
      return null;
    }
    return { type, challenge: Buffer.from(challenge, 'base64url'), origin };
  } catch {
    return null;
  }
}

function parseJsonObject(field: string, text: string): Record<string, unknown> {
  const bad = (description: string) => invalidArgument([{ field, description }]);
  if (text === '') throw bad('the JSON of the credential (credential.toJSON()) is required');
  if (text.length > MAX_RESPONSE_JSON) throw bad(`must be at most ${MAX_RESPONSE_JSON} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('must be JSON text (JSON.stringify(credential.toJSON()))');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw bad('must be a JSON object (credential.toJSON())');
  }
  return parsed as Record<string, unknown>;
}

/** A registration answer, checked for shape (INVALID_ARGUMENT otherwise), and its client data. */
export function parseRegistrationResponse(
  field: string,
  text: string,
): { response: RegistrationResponseJSON; clientData: ClientData } {
  const o = parseJsonObject(field, text);
  const r = o.response as Record<string, unknown> | undefined;
  const clientData = isB64(r?.clientDataJSON) ? clientDataOf(r.clientDataJSON) : null;
  if (
    !isB64(o.id, 1400) ||
    o.rawId !== o.id ||
    o.type !== 'public-key' ||
    typeof r !== 'object' ||
    r === null ||
    !isB64(r.attestationObject, 16_000) ||
    clientData === null
  ) {
    throw invalidArgument([
      {
        field,
        description:
          'must be the JSON of a PublicKeyCredential from navigator.credentials.create() (id, rawId, type "public-key", response.clientDataJSON, response.attestationObject)',
      },
    ]);
  }
  return { response: o as unknown as RegistrationResponseJSON, clientData };
}

/** An assertion, checked for shape (INVALID_ARGUMENT otherwise), with its credential id. */
export function parseAuthenticationResponse(
  field: string,
  text: string,
): { response: AuthenticationResponseJSON; clientData: ClientData; credentialId: Buffer } {
  const o = parseJsonObject(field, text);
  const r = o.response as Record<string, unknown> | undefined;
  const clientData = isB64(r?.clientDataJSON) ? clientDataOf(r.clientDataJSON) : null;
  if (
    !isB64(o.id, 1400) ||
    o.rawId !== o.id ||
    o.type !== 'public-key' ||
    typeof r !== 'object' ||
    r === null ||
    !isB64(r.authenticatorData) ||
    !isB64(r.signature) ||
    (r.userHandle !== undefined && r.userHandle !== null && !isB64(r.userHandle, 128)) ||
    clientData === null
  ) {
    throw invalidArgument([
      {
        field,
        description:
          'must be the JSON of a PublicKeyCredential from navigator.credentials.get() (id, rawId, type "public-key", response.clientDataJSON, authenticatorData, signature)',
      },
    ]);
  }
  return {
    response: o as unknown as AuthenticationResponseJSON,
    clientData,
    credentialId: Buffer.from(o.id, 'base64url'),
  };
}

/** The page's origin when it is one of the configured ones, else null. */
export function allowedOrigin(settings: WebauthnSettings, clientData: ClientData): string | null {
  return isAllowedOrigin(settings.origins, clientData.origin) ? clientData.origin : null;
}

/** Request options for navigator.credentials.get(), as JSON text. */
export async function authenticationOptionsJson(
  rpId: string,
  challenge: Buffer,
  allowCredentialIds: readonly Buffer[],
): Promise<string> {
  const options = await generateAuthenticationOptions({
    rpID: rpId,
    challenge: new Uint8Array(challenge),
    // Transports are left out on purpose: made-up ids (unknown accounts) would lack them.
    allowCredentials: allowCredentialIds.map((id) => ({ id: id.toString('base64url') })),
    userVerification: 'preferred',
    timeout: WEBAUTHN_CHALLENGE_TTL_SEC * 1000,
  });
  return JSON.stringify(options);
}

/** The made-up credential id StartPasskeyLogin lists for an identifier without passkeys. */
export async function decoyCredentialId(
  settings: WebauthnSettings,
  identifier: string,
): Promise<Buffer> {
  return createHmac('sha256', await settings.decoyKey())
    .update(`passkey-decoy\0${identifier}`)
    .digest();
}

/** Why an assertion was refused (audit details). */
export type AssertionFailure =
  | 'challenge_mismatch'
  | 'origin_not_allowed'
  | 'wrong_user'
  | 'bad_assertion'
  | 'counter_regression';

/** RFC 8176 references of a passkey: hwk for one bound to a device, swk for a synced one. */
export function passkeyAmr(passkey: Passkey): AuthMethodReference {
  return passkey.multiDevice ? 'swk' : 'hwk';
}

/**
 * Verifies an assertion against the stored passkey and the challenge it must sign (origin, RP
 * id, signature, user presence) and then the signature counter: one that does not increase,
 * when either the stored or the presented one is non-zero (WebAuthn §7.2 step 22), is a
 * regression (a cloned authenticator), reported with both counters.
 */
export async function verifyPasskeyAssertion(
  settings: WebauthnSettings,
  rpId: string,
  challenge: WebauthnChallenge,
  passkey: Passkey & { publicKey: Buffer },
  parsed: { response: AuthenticationResponseJSON; clientData: ClientData },
): Promise<
  | { ok: true; newCounter: number; userVerified: boolean; backedUp: boolean }
  | { ok: false; reason: AssertionFailure; presentedCounter?: number }
> {
  if (!parsed.clientData.challenge.equals(challenge.challenge)) {
    return { ok: false, reason: 'challenge_mismatch' };
  }
  const origin = allowedOrigin(settings, parsed.clientData);
  if (origin === null) return { ok: false, reason: 'origin_not_allowed' };
  const handle = parsed.response.response.userHandle;
  if (typeof handle === 'string' && handle !== userHandleOf(passkey.userId)) {
    return { ok: false, reason: 'wrong_user' };
  }
  let info: { newCounter: number; userVerified: boolean; credentialBackedUp: boolean };
  try {
    const result = await verifyAuthenticationResponse({
      response: parsed.response,
      expectedChallenge: challenge.challenge.toString('base64url'),
      expectedOrigin: origin,
      expectedRPID: rpId,
      // The counter is checked below, so that a regression is told apart and audited.
      credential: {
        id: passkey.credentialId.toString('base64url'),
        publicKey: new Uint8Array(passkey.publicKey),
        counter: 0,
      },
      requireUserVerification: false,
    });
    if (!result.verified) return { ok: false, reason: 'bad_assertion' };
    info = result.authenticationInfo;
  } catch {
    return { ok: false, reason: 'bad_assertion' };
  }
  if ((info.newCounter > 0 || passkey.signCount > 0) && info.newCounter <= passkey.signCount) {
    return { ok: false, reason: 'counter_regression', presentedCounter: info.newCounter };
  }
  return {
    ok: true,
    newCounter: info.newCounter,
    userVerified: info.userVerified,
    backedUp: info.credentialBackedUp,
  };
}

/** The WebAuthn user handle of a user: the 16 bytes of their UUID, base64url. */
export function userHandleOf(userId: string): string {
  return Buffer.from(userId.replaceAll('-', ''), 'hex').toString('base64url');
}
