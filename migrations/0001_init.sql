-- Gatehouse schema: users, sessions (one refresh-token family each), refresh tokens,
-- one-time tokens, signing keys and the append-only audit log.
-- Forward-only: never edit a migration that has been applied; add a new file.

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  -- NFKC + trim + case-fold; uniqueness is on this column, never on the display form.
  email_normalized text NOT NULL,
  username text,
  username_normalized text,
  display_name text NOT NULL DEFAULT '',
  -- PHC string (argon2id, or an imported algorithm upgraded on next login); NULL = no password yet.
  password_hash text,
  roles text[] NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
  email_verified boolean NOT NULL DEFAULT false,
  failed_login_count integer NOT NULL DEFAULT 0,
  lockout_count integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  external_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz,
  deleted_at timestamptz,
  CHECK ((username IS NULL) = (username_normalized IS NULL))
);

-- One live account per normalised address / username; deleted rows release them.
CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized) WHERE status <> 'deleted';
CREATE UNIQUE INDEX users_username_normalized_key ON users (username_normalized)
  WHERE status <> 'deleted' AND username_normalized IS NOT NULL;
-- Keyset pagination (created_at, id) and index-backed prefix search for admins.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);
CREATE INDEX users_email_prefix_idx ON users (email_normalized text_pattern_ops);
CREATE INDEX users_username_prefix_idx ON users (username_normalized text_pattern_ops)
  WHERE username_normalized IS NOT NULL;
CREATE INDEX users_display_name_prefix_idx ON users (lower(display_name) text_pattern_ops);
CREATE INDEX users_roles_idx ON users USING gin (roles);

CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  -- Sliding idle deadline (moved on refresh) and the absolute deadline (never moved).
  idle_expires_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text,
  ip_address text NOT NULL DEFAULT '',
  user_agent text NOT NULL DEFAULT '',
  CHECK (idle_expires_at <= expires_at)
);

CREATE INDEX sessions_user_live_idx ON sessions (user_id, created_at) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- A session's refresh tokens form its family: each rotation links parent -> successor.
CREATE TABLE refresh_tokens (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  -- SHA-256 of the 256-bit token; the token itself is never stored.
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  parent_id bigint REFERENCES refresh_tokens (id) ON DELETE SET NULL,
  replaced_by_id bigint REFERENCES refresh_tokens (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE one_time_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  -- The address the token was sent to: a token for an address the user no longer has is void.
  email_normalized text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz
);

CREATE INDEX one_time_tokens_user_purpose_idx ON one_time_tokens (user_id, purpose)
  WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX one_time_tokens_expires_at_idx ON one_time_tokens (expires_at);

-- JWT signing keys shared by every instance (each polls this table, so a rotation needs no restart).
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  algorithm text NOT NULL,
  public_jwk jsonb NOT NULL,
  private_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- When it stopped signing; it stays published until its last token has expired.
  retired_at timestamptz,
  -- When it leaves the JWKS (retired_at + the access-token lifetime at rotation time).
  expires_at timestamptz
);

-- At most one key signs at a time.
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys ((true)) WHERE retired_at IS NULL;

CREATE TABLE audit_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_user_id uuid,
  subject_user_id uuid,
  action text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  ip_address text NOT NULL DEFAULT '',
  user_agent text NOT NULL DEFAULT '',
  request_id text NOT NULL DEFAULT '',
  details jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_subject_idx ON audit_events (subject_user_id, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);

-- Append-only for everyone but the retention path: rows can only be removed by
-- a transaction that set gatehouse.audit_retention = 'on' (the cleanup job does).
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('gatehouse.audit_retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
