-- Second factors, phase 1 (issue 15): TOTP, recovery codes, the two-step login, and how each
-- session was authenticated. Passkeys (a table of their own beside user_totp_factors) come later.
-- Forward-only: never edit a migration that has been applied; add a new file.

-- A user's TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s). At most one per user: a
-- started, unconfirmed enrolment is replaced by the next StartTotpEnrollment and becomes active
-- only at ConfirmTotpEnrollment (confirmed_at set). The shared secret is stored encrypted with
-- AES-256-GCM under MFA_ENCRYPTION_KEY: `secret_ciphertext` holds iv (12) || ciphertext || tag
-- (16), `key_id` names the key it was sealed under (a fingerprint, never the key).
CREATE TABLE user_totp_factors (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_ciphertext bytea NOT NULL CHECK (octet_length(secret_ciphertext) > 28),
  key_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  -- The RFC 6238 time step of the last code accepted: a code of this step or an earlier one is
  -- refused (a code is accepted at most once, also within its ±1 step window).
  last_used_step bigint
);

-- Single-use recovery codes (10 per set, 60 random bits each), stored only as SHA-256 of the
-- normalised code. A new set (RegenerateRecoveryCodes) deletes the old one.
CREATE TABLE user_recovery_codes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz,
  UNIQUE (user_id, code_hash)
);

-- The second step of a login: a correct password for an account with a confirmed factor opens
-- a challenge instead of a session. Its token (`ghm_...`, 256 random bits) is single-use (only
-- its SHA-256 is kept), lives 5 minutes, is bound to the source address of the login, and dies
-- after a few wrong codes. `identifier` is the normalised login identifier, whose per-account
-- budget CompleteMfaLogin spends; `organization_id` the session's organisation to be.
CREATE TABLE mfa_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  identifier text NOT NULL,
  organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
  ip_address text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  failure_count int NOT NULL DEFAULT 0
);

CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);

-- How a session was authenticated (RFC 8176 method names: pwd, otp, mfa; later hwk, swk) and
-- when, carried by its access tokens as `amr` and `auth_time`. Sessions from before this
-- migration were all password logins at their creation.
ALTER TABLE sessions
  ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}',
  ADD COLUMN auth_time timestamptz;
UPDATE sessions SET auth_time = created_at;
ALTER TABLE sessions
  ALTER COLUMN auth_time SET DEFAULT now(),
  ALTER COLUMN auth_time SET NOT NULL;
