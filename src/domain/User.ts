/** Where an account is in its lifecycle; 'deleted' is a soft delete (the row stays for audit). */
export type UserStatus = 'active' | 'disabled' | 'deleted';

/**
 * A user as use cases and clients see it: profile, roles and status. It holds no credential or
 * lockout state, so a value of this type can go anywhere (responses, logs) without leaking it.
 */
export interface User {
  id: string;
  email: string;
  /** The email trimmed, NFKC and case-folded: what uniqueness, lookups and the policy use. */
  emailNormalized: string;
  username: string | null;
  displayName: string;
  roles: string[];
  status: UserStatus;
  emailVerified: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
}

/**
 * A user with its credential and lockout state, for the use cases that need them (login,
 * password change, the admin view). Kept apart from `User` so that handing on the user
 * (`account.user`) never hands on the password hash.
 */
export interface UserAccount {
  user: User;
  /** The stored PHC / bcrypt string; null for an account without a password. */
  passwordHash: string | null;
  /** Failed password attempts since the last success (or since a lock expired). */
  failedLoginCount: number;
  /** Locks so far; each one lasts twice as long as the one before (capped). */
  lockoutCount: number;
  lockedUntil: Date | null;
}

/** A normalised identifier: as typed (display) and the folded form uniqueness uses. */
export interface NormalizedName {
  display: string;
  normalized: string;
}

/** An account to create: Register, admin CreateUser, the bootstrap admin and ImportUsers. */
export interface NewUser {
  email: NormalizedName;
  username: NormalizedName | null;
  displayName: string;
  passwordHash: string | null;
  roles: readonly string[];
  emailVerified: boolean;
  /** Imports keep the source system's creation time; otherwise now. */
  createdAt?: Date | null;
  /** The id the user had in the system it was imported from. */
  externalId?: string | null;
}

/** The admin view of a user: lockout state and the hash ALGORITHM, never the hash. */
export interface ManagedUser {
  user: User;
  failedLoginCount: number;
  lockoutCount: number;
  /** Set only while the lock lasts. */
  lockedUntil: Date | null;
  /** "argon2id", "bcrypt", ...; null for an account without a password. */
  passwordAlgorithm: string | null;
}

/** The admin view of `account`; `hasher` names the algorithm of a stored hash. */
export function toManagedUser(
  account: UserAccount,
  hasher: { algorithmOf(storedHash: string): string },
): ManagedUser {
  const { user, passwordHash, failedLoginCount, lockoutCount, lockedUntil } = account;
  return {
    user,
    failedLoginCount,
    lockoutCount,
    lockedUntil: lockedUntil !== null && lockedUntil.getTime() > Date.now() ? lockedUntil : null,
    passwordAlgorithm: passwordHash === null ? null : hasher.algorithmOf(passwordHash),
  };
}
