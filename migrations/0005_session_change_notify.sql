-- Session change notifications (issue 11): every committed change that ends a session or alters
-- what ValidateToken answers for one (roles, status) is announced on the channel
-- `gatehouse_session_changes`, whoever made it: a Gatehouse instance, the admin CLI, or an
-- operator's own SQL. Every instance listens and drops (or repairs) its cached state, so its
-- in-process cache layer never serves an answer PostgreSQL no longer gives.
-- Payloads: 's:<session id>' (the session was revoked) and 'u:<user id>' (roles or status
-- changed). NOTIFY is transactional: nothing is sent for a rolled-back change, and identical
-- payloads within one transaction are sent once.
-- Forward-only: never edit a migration that has been applied; add a new file.

CREATE FUNCTION gatehouse_notify_session_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_session_changes', 's:' || NEW.id::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER sessions_notify_revoked
  AFTER UPDATE OF revoked_at ON sessions
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION gatehouse_notify_session_revoked();

CREATE FUNCTION gatehouse_notify_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_session_changes', 'u:' || NEW.id::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_changed
  AFTER UPDATE OF roles, status ON users
  FOR EACH ROW
  WHEN (OLD.roles IS DISTINCT FROM NEW.roles OR OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION gatehouse_notify_user_changed();
