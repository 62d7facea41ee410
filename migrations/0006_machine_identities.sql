-- Machine identities (issue 13): service accounts, API keys (owned by a user or a service
-- account) and their secrets, the audit columns of machine callers, and the change
-- notifications that make revocation, expiry and owner changes reach every instance's key
-- cache within a second (the channel of 0005).
-- Forward-only: never edit a migration that has been applied; add a new file.

CREATE TABLE service_accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- unique handle, lower-case [a-z0-9][a-z0-9-]{1,62}; display_name free text
  name text NOT NULL,
  display_name text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  roles text[] NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE UNIQUE INDEX service_accounts_name_key ON service_accounts (name) WHERE status <> 'deleted';
CREATE INDEX service_accounts_created_at_id_idx ON service_accounts (created_at, id);

-- A key belongs to exactly one owner: a user or a service account.
CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
  owner_service_account_id uuid REFERENCES service_accounts (id) ON DELETE CASCADE,
  display_name text NOT NULL DEFAULT '',
  -- roles the key asks for; effective roles = these ∩ the owner's roles NOW
  roles text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  CHECK ((owner_user_id IS NULL) <> (owner_service_account_id IS NULL))
);
CREATE INDEX api_keys_owner_user_idx ON api_keys (owner_user_id, created_at, id) WHERE owner_user_id IS NOT NULL;
CREATE INDEX api_keys_owner_sa_idx ON api_keys (owner_service_account_id, created_at, id) WHERE owner_service_account_id IS NOT NULL;

-- The secrets of a key: one normally, two during a rotation's overlap; imported legacy
-- secrets (any format) too. Only SHA-256 of the secret is stored.
CREATE TABLE api_key_secrets (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  api_key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  secret_hash bytea NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
  -- first characters for display ("ghk_3fA9"), never enough to use
  display_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- set when rotated away: the secret works until then (the overlap)
  expires_at timestamptz
);
CREATE INDEX api_key_secrets_key_idx ON api_key_secrets (api_key_id);

-- Who acted, when it was not a person with a session: the service account, and the key used
-- (by a service account or by a user, whose id stays in actor_user_id).
ALTER TABLE audit_events
  ADD COLUMN actor_service_account_id uuid,
  ADD COLUMN api_key_id uuid;

-- Change notifications on the channel of 0005. Payloads: 'k:<api key id>' (revoked, expiry or
-- roles changed, a secret added, changed or removed, the key deleted) and
-- 'sa:<service account id>' (roles or status changed). A user's role or status change already
-- sends 'u:<user id>' (0005); key caches react to it for that user's keys. A passing expiry
-- sends nothing: caches hold entries for less than a second and check expiry themselves.

-- One function for both tables: the trigger's argument names the column holding the key id
-- ('id' on api_keys, 'api_key_id' on api_key_secrets).
CREATE FUNCTION gatehouse_notify_api_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
BEGIN
  PERFORM pg_notify('gatehouse_session_changes', 'k:' || (v_row ->> TG_ARGV[0]));
  RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_notify_changed
  AFTER UPDATE OF revoked_at, expires_at, roles ON api_keys
  FOR EACH ROW
  WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
        OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
        OR OLD.roles IS DISTINCT FROM NEW.roles)
  EXECUTE FUNCTION gatehouse_notify_api_key_changed('id');

CREATE TRIGGER api_keys_notify_deleted
  AFTER DELETE ON api_keys
  FOR EACH ROW
  EXECUTE FUNCTION gatehouse_notify_api_key_changed('id');

CREATE TRIGGER api_key_secrets_notify_added_removed
  AFTER INSERT OR DELETE ON api_key_secrets
  FOR EACH ROW
  EXECUTE FUNCTION gatehouse_notify_api_key_changed('api_key_id');

CREATE TRIGGER api_key_secrets_notify_expiry
  AFTER UPDATE OF expires_at ON api_key_secrets
  FOR EACH ROW
  WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at)
  EXECUTE FUNCTION gatehouse_notify_api_key_changed('api_key_id');

CREATE FUNCTION gatehouse_notify_service_account_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_session_changes', 'sa:' || NEW.id::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER service_accounts_notify_changed
  AFTER UPDATE OF roles, status ON service_accounts
  FOR EACH ROW
  WHEN (OLD.roles IS DISTINCT FROM NEW.roles OR OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION gatehouse_notify_service_account_changed();
