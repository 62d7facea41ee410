-- Administration (UserAdminService): secrets shared by every instance, the actor index of the
-- audit log, and the application role that may only append to and read the audit log.
-- Forward-only: never edit a migration that has been applied; add a new file.

-- Secrets every instance must agree on without configuration (e.g. the HMAC key of ListUsers /
-- ListAuditEvents page tokens when PAGE_TOKEN_SECRET is unset). The first instance that needs
-- one inserts random bytes (INSERT ... ON CONFLICT DO NOTHING); the others read that row.
CREATE TABLE app_secrets (
  name text PRIMARY KEY,
  secret bytea NOT NULL CHECK (octet_length(secret) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- ListAuditEvents filters on "actor or subject is this user", newest first.
CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id, id);

-- The role the application runs as in production: a NOLOGIN group role; deployments connect as a
-- LOGIN role that is a member of it (see README, "Database roles"). It may read and append to the
-- audit log but never UPDATE, DELETE or TRUNCATE it (retention runs as the owner). Roles are
-- cluster-wide, so creating it is guarded: it may already exist (another database of the
-- cluster), another migration may create it at the same moment, and a migrating user without
-- CREATEROLE only gets a warning (a DBA then creates it and re-runs the GRANTs below).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
    BEGIN
      CREATE ROLE gatehouse_app NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE WARNING 'cannot create role gatehouse_app (needs CREATEROLE); see migrations/0002_admin.sql';
    END;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO gatehouse_app', current_database());
    GRANT USAGE ON SCHEMA public TO gatehouse_app;
    GRANT SELECT, INSERT, UPDATE, DELETE
      ON users, sessions, refresh_tokens, one_time_tokens, signing_keys, app_secrets
      TO gatehouse_app;
    REVOKE ALL ON audit_events FROM gatehouse_app;
    GRANT SELECT, INSERT ON audit_events TO gatehouse_app;
    GRANT SELECT ON schema_migrations TO gatehouse_app;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO gatehouse_app;
    -- Tables of later migrations (run by the same owner) get normal DML by default; a later
    -- append-only table must REVOKE UPDATE, DELETE from gatehouse_app like audit_events here.
    ALTER DEFAULT PRIVILEGES IN SCHEMA public
      GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gatehouse_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO gatehouse_app;
  END IF;
END;
$$;
