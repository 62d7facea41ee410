-- The revocation stream (issue 16): every committed revocation, whoever makes it (a Gatehouse
-- instance, the admin CLI, an operator's own SQL), is recorded in `revocation_events` by a
-- trigger in the transaction that makes it, and announced on the channel
-- `gatehouse_revocations` (payload: the row's id; NOTIFY is transactional, so nothing is sent
-- for a rolled-back change). AuthService.WatchRevocations streams the rows to resource servers.
-- Forward-only: never edit a migration that has been applied; add a new file.
--
-- Cursor: `position`, assigned AFTER the writing transaction committed, in commit order.
-- `id` (bigserial) is drawn when a row is inserted, so ids can commit out of order: a stream
-- that had sent id 11 and resumed after it would never see id 10 committing later. Instead,
-- gatehouse_sequence_revocation_events() (called by every instance when it is notified, when
-- it starts and after its listener reconnects) numbers the committed rows that have no
-- position yet, under a transaction advisory lock: one numbering at a time, each one commits
-- before the next starts, and every row it can see is committed. So positions become visible
-- in increasing order, a row committed later always gets a larger position than every row
-- already numbered, and a reader that has seen position P and asks for `position > P` can
-- never miss one (no gap) nor get one twice (no duplicate). Positions are not dense (a
-- numbering that rolls back wastes its sequence values); only their order means anything.
-- Nothing here depends on other transactions of the cluster (a long-running writer elsewhere
-- holds no event back, unlike a horizon read from pg_current_snapshot()).

CREATE TABLE revocation_events (
  id bigserial PRIMARY KEY,
  -- The cursor (see above); NULL until numbered, which follows the commit within milliseconds.
  position bigint UNIQUE,
  -- Which tokens it denies: session (sid = session_id), user (every token of user_id issued at
  -- or before revoke_time), user_organization (user_id's tokens for organization_id), api_key
  -- (the key and tokens minted from it).
  scope text NOT NULL CHECK (scope IN ('session', 'user', 'user_organization', 'api_key')),
  reason text NOT NULL CHECK (reason IN (
    'logout', 'session_revoked', 'password_changed', 'password_reset', 'refresh_reuse',
    'user_disabled', 'user_deleted', 'api_key_revoked', 'membership_removed',
    'service_account_disabled', 'other')),
  -- Ids only, no foreign keys: the event outlives a hard-deleted user, key or organisation.
  session_id uuid,
  user_id uuid,
  api_key_id uuid,
  service_account_id uuid,
  organization_id uuid,
  revoke_time timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE revocation_events_position_seq AS bigint OWNED BY revocation_events.position;
CREATE INDEX revocation_events_unnumbered_idx ON revocation_events (id) WHERE position IS NULL;
CREATE INDEX revocation_events_revoke_time_idx ON revocation_events (revoke_time);

-- The newest position ever pruned (0: none yet). A cursor below it may have missed pruned
-- events: WatchRevocations answers OUT_OF_RANGE REVOCATION_CURSOR_EXPIRED for it.
CREATE TABLE revocation_events_horizon (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pruned_through bigint NOT NULL DEFAULT 0
);
INSERT INTO revocation_events_horizon DEFAULT VALUES;

-- Numbers the committed, unnumbered events in id order; returns how many. Serialised by a
-- transaction advisory lock, so it must run in its own (short) transaction.
CREATE FUNCTION gatehouse_sequence_revocation_events() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
BEGIN
  PERFORM pg_advisory_xact_lock(1751671661);
  -- A new statement, a new snapshot: it sees every numbering committed before the lock.
  WITH pending AS (
    SELECT id FROM revocation_events WHERE position IS NULL ORDER BY id FOR UPDATE
  ), numbered AS (
    SELECT id, nextval('revocation_events_position_seq') AS position FROM pending ORDER BY id
  )
  UPDATE revocation_events e SET position = n.position FROM numbered n WHERE e.id = n.id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- Deletes numbered events older than p_keep, at most p_limit per call (oldest first), and moves
-- the horizon; returns how many it deleted. Called by the in-process cleanup runner with
-- max(ACCESS_TOKEN_TTL_SEC, REVOCATION_RETENTION_SEC) (docs/operations-cleanup.md).
CREATE FUNCTION gatehouse_prune_revocation_events(p_keep interval, p_limit integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
  v_through bigint;
BEGIN
  WITH gone AS (
    DELETE FROM revocation_events
     WHERE id IN (SELECT id FROM revocation_events
                   WHERE position IS NOT NULL AND revoke_time < now() - p_keep
                   ORDER BY position LIMIT p_limit)
    RETURNING position
  )
  SELECT count(*), max(position) INTO v_count, v_through FROM gone;
  IF v_through IS NOT NULL THEN
    UPDATE revocation_events_horizon SET pruned_through = greatest(pruned_through, v_through);
  END IF;
  RETURN v_count;
END
$$;

-- Every insert announces its id on gatehouse_revocations (delivered at commit).
CREATE FUNCTION gatehouse_notify_revocation_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_revocations', NEW.id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER revocation_events_notify
  AFTER INSERT ON revocation_events
  FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_revocation_event();

-- sessions.revoked_reason (src/domain/Session.ts RevocationReason) -> the event's reason.
CREATE FUNCTION gatehouse_revocation_reason_of_session(p_reason text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_reason
    WHEN 'logout' THEN 'logout'
    WHEN 'session_revoke' THEN 'session_revoked'
    WHEN 'user_revoke_others' THEN 'session_revoked'
    WHEN 'admin_revoke' THEN 'session_revoked'
    WHEN 'password_change' THEN 'password_changed'
    WHEN 'password_reset' THEN 'password_reset'
    WHEN 'refresh_token_reuse' THEN 'refresh_reuse'
    WHEN 'admin_disable' THEN 'user_disabled'
    WHEN 'admin_delete' THEN 'user_deleted'
    ELSE 'other'
  END
$$;

-- A session ended (logout, revocation, password change or reset, reuse detection, an admin's
-- revocation, disable or delete of its user).
CREATE FUNCTION gatehouse_record_session_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO revocation_events (scope, reason, session_id, user_id)
  VALUES ('session', gatehouse_revocation_reason_of_session(NEW.revoked_reason), NEW.id, NEW.user_id);
  RETURN NULL;
END
$$;
CREATE TRIGGER sessions_record_revocation
  AFTER UPDATE OF revoked_at ON sessions
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION gatehouse_record_session_revoked();

-- A user was disabled or deleted (soft: status; hard: the row), which also stops the tokens
-- of their API keys.
CREATE FUNCTION gatehouse_record_user_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO revocation_events (scope, reason, user_id) VALUES ('user', 'user_deleted', OLD.id);
  ELSE
    INSERT INTO revocation_events (scope, reason, user_id)
    VALUES ('user', CASE NEW.status WHEN 'deleted' THEN 'user_deleted' ELSE 'user_disabled' END,
            NEW.id);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER users_record_revocation
  AFTER UPDATE OF status ON users
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('disabled', 'deleted'))
  EXECUTE FUNCTION gatehouse_record_user_revoked();
CREATE TRIGGER users_record_hard_delete
  AFTER DELETE ON users
  FOR EACH ROW
  WHEN (OLD.status <> 'deleted')
  EXECUTE FUNCTION gatehouse_record_user_revoked();

-- An API key was revoked, or deleted while live (also by the cascade of its owner's deletion).
CREATE FUNCTION gatehouse_record_api_key_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_key api_keys := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
  INSERT INTO revocation_events (scope, reason, api_key_id, user_id, service_account_id)
  VALUES ('api_key', 'api_key_revoked', v_key.id, v_key.owner_user_id,
          v_key.owner_service_account_id);
  RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_record_revocation
  AFTER UPDATE OF revoked_at ON api_keys
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION gatehouse_record_api_key_revoked();
CREATE TRIGGER api_keys_record_delete
  AFTER DELETE ON api_keys
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL)
  EXECUTE FUNCTION gatehouse_record_api_key_revoked();

-- A membership ended (RemoveMember, or the cascade of a user's, service account's or
-- organisation's deletion): tokens naming that organisation are stale.
CREATE FUNCTION gatehouse_record_membership_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO revocation_events (scope, reason, user_id, service_account_id, organization_id)
  VALUES ('user_organization', 'membership_removed', OLD.user_id, OLD.service_account_id,
          OLD.organization_id);
  RETURN NULL;
END
$$;
CREATE TRIGGER memberships_record_revocation
  AFTER DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION gatehouse_record_membership_removed();

-- A service account left 'active' (disabled or deleted): one event per key it holds that is
-- not revoked (deletion then revokes them, which records api_key_revoked as well).
CREATE FUNCTION gatehouse_record_service_account_disabled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO revocation_events (scope, reason, api_key_id, service_account_id)
  SELECT 'api_key', 'service_account_disabled', k.id, NEW.id
    FROM api_keys k
   WHERE k.owner_service_account_id = NEW.id AND k.revoked_at IS NULL
   ORDER BY k.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER service_accounts_record_revocation
  AFTER UPDATE OF status ON service_accounts
  FOR EACH ROW
  WHEN (OLD.status = 'active' AND NEW.status <> 'active')
  EXECUTE FUNCTION gatehouse_record_service_account_disabled();

-- The permission WatchRevocations requires of its callers, built in like authz:check (0009):
-- a resource server's role can name it without anyone defining it first. Migration 0009
-- grants authz:check to no role, so neither is this one: an administrator grants it to the
-- global role of the service accounts that subscribe (docs/revocations.md).
INSERT INTO permissions (name, description)
VALUES ('revocations:watch', 'Subscribe to AuthService.WatchRevocations, the revocation stream')
ON CONFLICT (name) DO NOTHING;
