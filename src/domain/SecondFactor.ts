/** A user's TOTP authenticator; its secret stays sealed (see src/auth/createSecretBox.ts). */
export interface TotpFactor {
  userId: string;
  /** iv || AES-256-GCM ciphertext || tag of the base32 secret. */
  secretCiphertext: Buffer;
  /** Fingerprint of the key it was sealed under. */
  keyId: string;
  createdAt: Date;
  /** Null while the enrolment is pending. */
  confirmedAt: Date | null;
  /** The RFC 6238 time step of the last accepted code; codes of it or earlier are refused. */
  lastUsedStep: number | null;
}

/** The second step of a login: opened by a correct password, passed by a second factor. */
export interface MfaChallenge {
  id: string;
  userId: string;
  /** The normalised login identifier whose per-account budget the second step spends. */
  identifier: string;
  organizationId: string | null;
  /** The client address of the Login; the challenge is good only from there. */
  ipAddress: string;
  expiresAt: Date;
  consumedAt: Date | null;
  failureCount: number;
}

/** RFC 8176 authentication method references a session can carry (hwk/swk: passkeys). */
export type AuthMethodReference = 'pwd' | 'otp' | 'mfa' | 'hwk' | 'swk';

/** The ways CompleteMfaLogin can be passed. */
export type MfaMethodName = 'totp' | 'recovery_code' | 'passkey';

/** A registered passkey (WebAuthn credential); its public key stays in storage. */
export interface Passkey {
  id: string;
  userId: string;
  /** The authenticator's credential id (raw bytes). */
  credentialId: Buffer;
  displayName: string;
  aaguid: string;
  transports: string[];
  /** A synced (backup eligible) passkey rather than one bound to a single device. */
  multiDevice: boolean;
  backedUp: boolean;
  signCount: number;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** What a WebAuthn challenge is for. */
export type WebauthnPurpose = 'registration' | 'login' | 'second_factor' | 'reauthentication';

/** An outstanding WebAuthn challenge (table webauthn_challenges). */
export interface WebauthnChallenge {
  id: string;
  userId: string | null;
  purpose: WebauthnPurpose;
  /** The random bytes the authenticator signs. */
  challenge: Buffer;
  mfaChallengeId: string | null;
  /** The session a reauthentication challenge belongs to; null for the other purposes. */
  sessionId: string | null;
  identifier: string | null;
  ipAddress: string;
  expiresAt: Date;
  /** Neither consumed nor expired. */
  live: boolean;
}
