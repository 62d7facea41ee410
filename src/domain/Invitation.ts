/** Where an invitation is in its lifecycle (expired: not accepted nor revoked, past expiry). */
export type InvitationStatus = 'open' | 'accepted' | 'revoked' | 'expired';

/** An invitation of an email address to join an organisation; never its token. */
export interface Invitation {
  id: string;
  organizationId: string;
  /** Trimmed, NFKC, case-folded, as src/auth/normalize.ts folds users' addresses. */
  emailNormalized: string;
  /** Organisation-scope roles the member gets on acceptance, sorted. */
  roleIds: string[];
  status: InvitationStatus;
  invitedByUserId: string | null;
  invitedByServiceAccountId: string | null;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedByUserId: string | null;
  revokedAt: Date | null;
}

/** Who invites: a user or a service account (null for neither, e.g. an operator's script). */
export type Inviter = { kind: 'user' | 'service_account'; id: string } | null;
