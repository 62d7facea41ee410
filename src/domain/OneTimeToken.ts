/** What a one-time token (mailed link) is for. */
export type OneTimePurpose = 'password_reset' | 'email_verification';

/** A usable one-time token and what its use needs to know of its user. */
export interface UsableOneTimeToken {
  id: string;
  userId: string;
  /** The address the token was sent to (the user still has it, or it is not usable). */
  emailNormalized: string;
  username: string | null;
}
