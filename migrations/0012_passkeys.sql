-- Second factors, phase 2b (issue 15): passkeys (WebAuthn), as a second factor and for
-- passwordless sign-in. Forward-only: never edit a migration that has been applied.

-- A user's registered WebAuthn credentials. `credential_id` is the authenticator's id (raw
-- bytes), `public_key` the COSE public key; neither is secret, but the public key is never
-- returned. `sign_count` is the last signature counter seen: an assertion whose counter does not
-- increase (both non-zero) is refused as from a cloned authenticator. `multi_device` (synced
-- passkey, backup eligible) and `backed_up` come from the authenticator data flags.
CREATE TABLE webauthn_credentials (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id bytea NOT NULL UNIQUE CHECK (octet_length(credential_id) BETWEEN 16 AND 1023),
  public_key bytea NOT NULL,
  sign_count bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
  transports text[] NOT NULL DEFAULT '{}',
  aaguid uuid NOT NULL,
  multi_device boolean NOT NULL,
  backed_up boolean NOT NULL,
  display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 64),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

CREATE INDEX webauthn_credentials_user_id_idx ON webauthn_credentials (user_id, created_at);

-- Outstanding WebAuthn challenges, single-use, 5 minutes. `id_hash` is the SHA-256 of the
-- opaque challenge id handed to the client (StartPasskeyLogin's challenge_id; an internal one
-- for the other purposes), `challenge` the random bytes the authenticator signs. A registration
-- challenge belongs to a signed-in user; a login one may name the user the identifier found (or
-- none: discoverable credentials); a second_factor one belongs to the login's mfa challenge.
CREATE TABLE webauthn_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  id_hash bytea NOT NULL UNIQUE CHECK (octet_length(id_hash) = 32),
  user_id uuid REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('registration', 'login', 'second_factor')),
  challenge bytea NOT NULL UNIQUE CHECK (octet_length(challenge) = 32),
  mfa_challenge_id uuid REFERENCES mfa_challenges (id) ON DELETE CASCADE,
  -- The normalised identifier StartPasskeyLogin was given, for the account budget; null without.
  identifier text,
  ip_address text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  CHECK (purpose <> 'registration' OR user_id IS NOT NULL),
  CHECK ((purpose = 'second_factor') = (mfa_challenge_id IS NOT NULL))
);

CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);
CREATE INDEX webauthn_challenges_user_id_idx ON webauthn_challenges (user_id);
