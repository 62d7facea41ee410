-- Data-lifecycle cleanup (issue 7): one SQL function removes what Gatehouse no longer needs, in
-- bounded batches; pg_cron runs it where it is preloaded for this database, otherwise Gatehouse
-- runs it in-process on the same schedule. Operations: docs/operations-cleanup.md.
-- Forward-only: never edit a migration that has been applied; add a new file.

-- Retention and batching, one row. Both paths read it (pg_cron has no access to Gatehouse's
-- environment); Gatehouse writes the CLEANUP_* values it was given at start. The audit
-- retention can only be changed by the owner: the application role must not shorten it.
CREATE TABLE cleanup_settings (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  -- Rows per DELETE statement, and DELETE statements per table per run.
  batch_size integer NOT NULL DEFAULT 1000 CHECK (batch_size BETWEEN 1 AND 100000),
  max_batches integer NOT NULL DEFAULT 100 CHECK (max_batches BETWEEN 1 AND 100000),
  -- No new batch starts after this; the next run continues.
  time_budget interval NOT NULL DEFAULT '30 seconds'
    CHECK (time_budget > interval '0' AND time_budget <= interval '1 hour'),
  -- How long a DELETE may wait for a table lock before the run fails (and is recorded).
  lock_timeout interval NOT NULL DEFAULT '5 seconds'
    CHECK (lock_timeout > interval '0' AND lock_timeout <= interval '10 minutes'),
  -- Sessions (with their refresh-token family): this long after absolute expiry or revocation.
  session_retention interval NOT NULL DEFAULT '7 days' CHECK (session_retention >= interval '0'),
  -- One-time tokens: this long after they were used, revoked or expired (whichever came first).
  one_time_retention interval NOT NULL DEFAULT '1 day' CHECK (one_time_retention >= interval '0'),
  -- outbox_messages with status 'sent': this long after sent_at.
  outbox_retention interval NOT NULL DEFAULT '7 days' CHECK (outbox_retention >= interval '0'),
  -- audit_events: this long after occurred_at. Never less than a day (a typo must not wipe it).
  audit_retention interval NOT NULL DEFAULT '365 days' CHECK (audit_retention >= interval '1 day'),
  -- cleanup_runs and cron.job_run_details rows of the gatehouse-cleanup job.
  history_retention interval NOT NULL DEFAULT '7 days' CHECK (history_retention >= interval '1 hour'),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cleanup_settings DEFAULT VALUES;

-- One row per run of gatehouse_run_cleanup(): the admin-readable record of what was removed.
-- A run that failed is recorded with its error (and removed nothing: it was rolled back).
CREATE TABLE cleanup_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  trigger text NOT NULL CHECK (trigger IN ('pg_cron', 'in_process', 'manual')),
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  -- Rows removed per table, e.g. {"sessions": 12, "refresh_tokens": 40, ...}.
  deleted jsonb NOT NULL DEFAULT '{}',
  -- false: the run stopped at max_batches or its time budget; more rows may remain.
  complete boolean NOT NULL DEFAULT true,
  error text
);
CREATE INDEX cleanup_runs_started_at_idx ON cleanup_runs (started_at);

-- Index-backed batch selection. Only columns that never change on the refresh hot path
-- (expires_at, revoked_at) are indexed on sessions, so touching idle_expires_at stays HOT.
CREATE INDEX sessions_dead_at_idx ON sessions ((LEAST(expires_at, revoked_at)));
CREATE INDEX one_time_tokens_dead_at_idx ON one_time_tokens ((LEAST(expires_at, used_at, revoked_at)));
-- Deleting a refresh token sets parent_id / replaced_by_id of its family members to NULL
-- (ON DELETE SET NULL): without these indexes every deleted token scans the whole table.
CREATE INDEX IF NOT EXISTS refresh_tokens_parent_id_idx ON refresh_tokens (parent_id)
  WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS refresh_tokens_replaced_by_id_idx ON refresh_tokens (replaced_by_id)
  WHERE replaced_by_id IS NOT NULL;

-- Removes, in batches of at most batch_size rows per DELETE and at most max_batches DELETEs per
-- table, with SKIP LOCKED (it never waits for a row the application holds):
--   sessions whose absolute expiry or revocation is older than session_retention, with their
--     whole refresh-token family (tokens first, in batches; a family is only removed with its
--     session). A live session keeps ALL its refresh tokens, rotated ones included: reuse
--     detection needs them while the family lives, and a family lives at most the absolute
--     session lifetime, so this bounds them;
--   one-time tokens used, revoked or expired more than one_time_retention ago;
--   outbox_messages sent (or given up on) longer ago than outbox_retention (skipped if absent);
--   audit_events older than audit_retention;
--   cleanup_runs and cron.job_run_details rows of its own job older than history_retention
--     (the latter only where pg_cron is installed and readable).
-- NULL arguments take their value from cleanup_settings. Returns one row per table handled;
-- complete = false when it stopped at max_batches or time_budget (the next run continues).
-- Returns no rows (NOTICE) when another run holds the cleanup lock. Everything happens in the
-- caller's transaction, which time_budget keeps short; the rows it locks are already dead.
CREATE FUNCTION gatehouse_cleanup(
  batch_size integer DEFAULT NULL,
  max_batches integer DEFAULT NULL,
  session_retention interval DEFAULT NULL,
  audit_retention interval DEFAULT NULL,
  one_time_retention interval DEFAULT NULL,
  outbox_retention interval DEFAULT NULL,
  history_retention interval DEFAULT NULL,
  time_budget interval DEFAULT NULL
) RETURNS TABLE (table_name text, deleted bigint, complete boolean)
LANGUAGE plpgsql
-- Scope both settings to this call: SET LOCAL inside does not outlive the function.
SET lock_timeout = '5s'
SET gatehouse.audit_retention = 'off'
AS $fn$
DECLARE
  s cleanup_settings;
  v_batch integer;
  v_max integer;
  v_deadline timestamptz;
  v_session_cutoff timestamptz;
  v_one_time_cutoff timestamptz;
  v_outbox_cutoff timestamptz;
  v_audit_cutoff timestamptz;
  v_history_cutoff timestamptz;
  v_ids uuid[];
  v_n bigint;
  v_rows bigint;
  v_tokens bigint;
  v_batches integer;
  v_done boolean;
BEGIN
  -- Same key as gatehouse_run_cleanup (re-entrant within one transaction).
  IF NOT pg_try_advisory_xact_lock(1751671660) THEN
    RAISE NOTICE 'gatehouse_cleanup: another cleanup run holds the lock; nothing done';
    RETURN;
  END IF;

  SELECT * INTO s FROM cleanup_settings LIMIT 1;
  v_batch := COALESCE(gatehouse_cleanup.batch_size, s.batch_size, 1000);
  v_max := COALESCE(gatehouse_cleanup.max_batches, s.max_batches, 100);
  v_deadline := clock_timestamp()
    + COALESCE(gatehouse_cleanup.time_budget, s.time_budget, interval '30 seconds');
  IF v_batch < 1 OR v_max < 1 OR v_deadline <= clock_timestamp() THEN
    RAISE EXCEPTION 'gatehouse_cleanup: batch_size, max_batches and time_budget must be positive'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF COALESCE(gatehouse_cleanup.session_retention, interval '0') < interval '0'
     OR COALESCE(gatehouse_cleanup.one_time_retention, interval '0') < interval '0'
     OR COALESCE(gatehouse_cleanup.outbox_retention, interval '0') < interval '0'
     OR COALESCE(gatehouse_cleanup.history_retention, interval '1 hour') < interval '1 hour'
     OR COALESCE(gatehouse_cleanup.audit_retention, interval '1 day') < interval '1 day' THEN
    RAISE EXCEPTION 'gatehouse_cleanup: retentions must not be negative (audit_retention at least 1 day, history_retention at least 1 hour)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_session_cutoff := now()
    - COALESCE(gatehouse_cleanup.session_retention, s.session_retention, interval '7 days');
  v_one_time_cutoff := now()
    - COALESCE(gatehouse_cleanup.one_time_retention, s.one_time_retention, interval '1 day');
  v_outbox_cutoff := now()
    - COALESCE(gatehouse_cleanup.outbox_retention, s.outbox_retention, interval '7 days');
  v_audit_cutoff := now()
    - COALESCE(gatehouse_cleanup.audit_retention, s.audit_retention, interval '365 days');
  v_history_cutoff := now()
    - COALESCE(gatehouse_cleanup.history_retention, s.history_retention, interval '7 days');
  PERFORM set_config('lock_timeout',
    (extract(epoch FROM COALESCE(s.lock_timeout, interval '5 seconds')) * 1000)::bigint || 'ms',
    true);

  -- Sessions, each batch with its refresh-token family (tokens first, batch_size at a time).
  v_rows := 0;
  v_tokens := 0;
  v_batches := 0;
  v_done := true;
  <<sessions_loop>>
  LOOP
    IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
      v_done := false;
      EXIT;
    END IF;
    SELECT array_agg(d.id) INTO v_ids FROM (
      SELECT x.id FROM sessions x
      WHERE LEAST(x.expires_at, x.revoked_at) < v_session_cutoff
      LIMIT v_batch
      FOR UPDATE SKIP LOCKED) d;
    EXIT WHEN v_ids IS NULL;
    LOOP
      IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
        v_done := false;
        EXIT sessions_loop;
      END IF;
      DELETE FROM refresh_tokens WHERE id IN (
        SELECT rt.id FROM refresh_tokens rt
        WHERE rt.session_id = ANY (v_ids)
        LIMIT v_batch
        FOR UPDATE SKIP LOCKED);
      GET DIAGNOSTICS v_n = ROW_COUNT;
      EXIT WHEN v_n = 0;
      v_tokens := v_tokens + v_n;
      v_batches := v_batches + 1;
      EXIT WHEN v_n < v_batch;
    END LOOP;
    -- Tokens skipped above because a request held them go with their session (cascade).
    SELECT count(*) INTO v_n FROM refresh_tokens rt WHERE rt.session_id = ANY (v_ids);
    v_tokens := v_tokens + v_n;
    DELETE FROM sessions WHERE id = ANY (v_ids);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_rows := v_rows + v_n;
    v_batches := v_batches + 1;
    EXIT WHEN cardinality(v_ids) < v_batch;
  END LOOP;
  table_name := 'sessions'; deleted := v_rows; complete := v_done;
  RETURN NEXT;
  table_name := 'refresh_tokens'; deleted := v_tokens; complete := v_done;
  RETURN NEXT;

  -- One-time tokens.
  v_rows := 0;
  v_batches := 0;
  v_done := true;
  LOOP
    IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
      v_done := false;
      EXIT;
    END IF;
    DELETE FROM one_time_tokens WHERE id IN (
      SELECT x.id FROM one_time_tokens x
      WHERE LEAST(x.expires_at, x.used_at, x.revoked_at) < v_one_time_cutoff
      LIMIT v_batch
      FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_rows := v_rows + v_n;
    v_batches := v_batches + 1;
    EXIT WHEN v_n < v_batch;
  END LOOP;
  table_name := 'one_time_tokens'; deleted := v_rows; complete := v_done;
  RETURN NEXT;

  -- Sent mail, and mail given up on (its body is already blanked), past retention. The outbox
  -- table arrives in a later migration; skipped while it does not exist.
  IF to_regclass('outbox_messages') IS NOT NULL THEN
    v_rows := 0;
    v_batches := 0;
    v_done := true;
    LOOP
      IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
        v_done := false;
        EXIT;
      END IF;
      DELETE FROM outbox_messages WHERE ctid = ANY (ARRAY(
        SELECT x.ctid FROM outbox_messages x
        WHERE (x.status = 'sent' AND COALESCE(x.sent_at, x.created_at) < v_outbox_cutoff)
           OR (x.status = 'failed' AND x.created_at < v_outbox_cutoff)
        LIMIT v_batch
        FOR UPDATE SKIP LOCKED));
      GET DIAGNOSTICS v_n = ROW_COUNT;
      v_rows := v_rows + v_n;
      v_batches := v_batches + 1;
      EXIT WHEN v_n < v_batch;
    END LOOP;
    table_name := 'outbox_messages'; deleted := v_rows; complete := v_done;
    RETURN NEXT;
  END IF;

  -- Audit events: the append-only trigger lets these deletes through (this call only).
  PERFORM set_config('gatehouse.audit_retention', 'on', true);
  v_rows := 0;
  v_batches := 0;
  v_done := true;
  LOOP
    IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
      v_done := false;
      EXIT;
    END IF;
    DELETE FROM audit_events WHERE id IN (
      SELECT x.id FROM audit_events x
      WHERE x.occurred_at < v_audit_cutoff
      LIMIT v_batch
      FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_rows := v_rows + v_n;
    v_batches := v_batches + 1;
    EXIT WHEN v_n < v_batch;
  END LOOP;
  PERFORM set_config('gatehouse.audit_retention', 'off', true);
  table_name := 'audit_events'; deleted := v_rows; complete := v_done;
  RETURN NEXT;

  -- This job's own history.
  v_rows := 0;
  v_batches := 0;
  v_done := true;
  LOOP
    IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
      v_done := false;
      EXIT;
    END IF;
    DELETE FROM cleanup_runs WHERE id IN (
      SELECT x.id FROM cleanup_runs x
      WHERE x.started_at < v_history_cutoff
      LIMIT v_batch
      FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_rows := v_rows + v_n;
    v_batches := v_batches + 1;
    EXIT WHEN v_n < v_batch;
  END LOOP;
  table_name := 'cleanup_runs'; deleted := v_rows; complete := v_done;
  RETURN NEXT;

  -- pg_cron's run log of the gatehouse-cleanup job of this database, where pg_cron is installed
  -- (the cron.database_name database) and this role may delete its own job's rows.
  IF to_regclass('cron.job_run_details') IS NOT NULL AND to_regclass('cron.job') IS NOT NULL THEN
    BEGIN
      v_rows := 0;
      v_batches := 0;
      v_done := true;
      LOOP
        IF v_batches >= v_max OR clock_timestamp() >= v_deadline THEN
          v_done := false;
          EXIT;
        END IF;
        -- No FOR UPDATE: pg_cron grants only SELECT and DELETE; finished rows are never updated.
        DELETE FROM cron.job_run_details WHERE runid IN (
          SELECT d.runid FROM cron.job_run_details d
          JOIN cron.job j ON j.jobid = d.jobid
          WHERE j.jobname = 'gatehouse-cleanup' AND j.database = current_database()
            AND COALESCE(d.end_time, d.start_time) < v_history_cutoff
          LIMIT v_batch);
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_rows := v_rows + v_n;
        v_batches := v_batches + 1;
        EXIT WHEN v_n < v_batch;
      END LOOP;
      table_name := 'cron.job_run_details'; deleted := v_rows; complete := v_done;
      RETURN NEXT;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'gatehouse_cleanup: no privilege to prune cron.job_run_details (%); skipped',
        SQLERRM;
    END;
  END IF;
END;
$fn$;

-- Runs gatehouse_cleanup() with the settings of cleanup_settings and records the run in
-- cleanup_runs, failed runs included: an error rolls back the deletes (a subtransaction) and
-- is stored in cleanup_runs.error (and raised as a WARNING to the server log) instead of being
-- thrown, so the record survives. Returns the recorded row, or no row when skipped: another run
-- holds the lock, or min_gap is given and a run started less than min_gap ago (how Gatehouse
-- instances that fire together run it once per interval).
-- SECURITY DEFINER: the application role may run retention (audit_events included) but may
-- neither delete audit rows itself nor choose the audit retention (only the owner can).
CREATE FUNCTION gatehouse_run_cleanup(trigger text DEFAULT 'manual', min_gap interval DEFAULT NULL)
RETURNS SETOF cleanup_runs
LANGUAGE plpgsql
SECURITY DEFINER
AS $fn$
DECLARE
  v_started timestamptz;
  v_deleted jsonb := '{}';
  v_complete boolean := true;
  v_error text;
  v_state text;
  v_run cleanup_runs;
BEGIN
  IF gatehouse_run_cleanup.trigger IS NULL
     OR gatehouse_run_cleanup.trigger NOT IN ('pg_cron', 'in_process', 'manual') THEN
    RAISE EXCEPTION 'gatehouse_run_cleanup: trigger must be pg_cron, in_process or manual'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT pg_try_advisory_xact_lock(1751671660) THEN
    RAISE NOTICE 'gatehouse_run_cleanup: another cleanup run is in progress; skipped';
    RETURN;
  END IF;
  IF gatehouse_run_cleanup.min_gap IS NOT NULL AND EXISTS (
       SELECT 1 FROM cleanup_runs r WHERE r.started_at > now() - gatehouse_run_cleanup.min_gap) THEN
    RAISE NOTICE 'gatehouse_run_cleanup: a run started less than % ago; skipped',
      gatehouse_run_cleanup.min_gap;
    RETURN;
  END IF;
  v_started := clock_timestamp();
  BEGIN
    SELECT COALESCE(jsonb_object_agg(c.table_name, c.deleted), '{}'), COALESCE(bool_and(c.complete), true)
      INTO v_deleted, v_complete
      FROM gatehouse_cleanup() c;
  EXCEPTION WHEN query_canceled OR others THEN
    -- query_canceled too: a statement timeout is the most likely failure and must be recorded.
    GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
    v_error := v_error || ' (SQLSTATE ' || v_state || ')';
    v_deleted := '{}';
    v_complete := false;
    RAISE WARNING 'gatehouse cleanup run failed: %', v_error;
  END;
  INSERT INTO cleanup_runs (trigger, started_at, finished_at, duration_ms, deleted, complete, error)
  VALUES (gatehouse_run_cleanup.trigger, v_started, clock_timestamp(),
          round(extract(epoch FROM clock_timestamp() - v_started) * 1000)::integer,
          v_deleted, v_complete, v_error)
  RETURNING * INTO v_run;
  RETURN NEXT v_run;
END;
$fn$;

-- The pg_cron job that runs the cleanup for this database, if any (no row without pg_cron, or
-- when no such job is visible). SECURITY DEFINER: cron.job only shows a role its own jobs, and
-- the job belongs to the role that ran the migrations.
CREATE FUNCTION gatehouse_cleanup_cron_job()
RETURNS TABLE (jobid bigint, schedule text, command text, active boolean)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
AS $fn$
BEGIN
  IF to_regclass('cron.job') IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT j.jobid, j.schedule, j.command, j.active FROM cron.job j
    WHERE j.jobname = 'gatehouse-cleanup' AND j.database = current_database()
    ORDER BY j.jobid
    LIMIT 1;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'gatehouse_cleanup_cron_job: cannot read cron.job (%)', SQLERRM;
  RETURN;
END;
$fn$;

-- Registers (or updates: cron.schedule upserts by job name) the pg_cron job, where possible:
-- pg_cron preloaded and this database is cron.database_name. Anywhere else it raises a NOTICE and
-- returns NULL; Gatehouse then runs the cleanup in-process. Called below; operators call it again
-- after enabling pg_cron later, or to change the schedule: SELECT gatehouse_schedule_cleanup('0 * * * *').
CREATE FUNCTION gatehouse_schedule_cleanup(schedule text DEFAULT '*/15 * * * *')
RETURNS bigint
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_preload text;
  v_cron_db text;
  v_jobid bigint;
BEGIN
  BEGIN
    v_preload := current_setting('shared_preload_libraries', true);
  EXCEPTION WHEN insufficient_privilege THEN
    v_preload := NULL; -- not readable by this role: decided by the extension's presence below
  END;
  IF NOT (COALESCE(v_preload ~ '(^|,)\s*"?pg_cron"?\s*(,|$)', false)
          OR (v_preload IS NULL AND EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron'))) THEN
    RAISE NOTICE 'pg_cron is not preloaded: cleanup job not scheduled; Gatehouse runs gatehouse_run_cleanup() in-process (CLEANUP_INTERVAL_SEC)';
    RETURN NULL;
  END IF;
  v_cron_db := current_setting('cron.database_name', true);
  IF v_cron_db IS DISTINCT FROM current_database() THEN
    RAISE NOTICE 'pg_cron serves database % (cron.database_name), not %: cleanup job not scheduled; Gatehouse runs gatehouse_run_cleanup() in-process (CLEANUP_INTERVAL_SEC)',
      COALESCE(v_cron_db, '(unset)'), current_database();
    RETURN NULL;
  END IF;
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_cron;
    v_jobid := cron.schedule('gatehouse-cleanup', gatehouse_schedule_cleanup.schedule,
                             $cmd$SELECT gatehouse_run_cleanup('pg_cron')$cmd$);
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot use pg_cron here (%): cleanup job not scheduled; Gatehouse runs gatehouse_run_cleanup() in-process (CLEANUP_INTERVAL_SEC)',
      SQLERRM;
    RETURN NULL;
  END;
  RAISE NOTICE 'pg_cron job gatehouse-cleanup (id %) runs gatehouse_run_cleanup(''pg_cron'') on schedule %',
    v_jobid, gatehouse_schedule_cleanup.schedule;
  RETURN v_jobid;
END;
$fn$;

DO $$
BEGIN
  -- The definer functions resolve tables in this schema only (pg_temp last): a temporary table
  -- of the application role must not stand in for cleanup_settings.
  EXECUTE format('ALTER FUNCTION gatehouse_run_cleanup(text, interval) SET search_path = %I, pg_temp',
                 current_schema());
  EXECUTE format('ALTER FUNCTION gatehouse_cleanup_cron_job() SET search_path = %I, pg_temp',
                 current_schema());
  REVOKE ALL ON FUNCTION gatehouse_run_cleanup(text, interval) FROM PUBLIC;
  REVOKE ALL ON FUNCTION gatehouse_cleanup_cron_job() FROM PUBLIC;
  REVOKE ALL ON FUNCTION gatehouse_schedule_cleanup(text) FROM PUBLIC;
  -- The application role (migration 0002): runs the cleanup and reads its record and settings;
  -- it may set the CLEANUP_* values it is configured with, but not the audit retention.
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
    GRANT EXECUTE ON FUNCTION gatehouse_run_cleanup(text, interval) TO gatehouse_app;
    GRANT EXECUTE ON FUNCTION gatehouse_cleanup_cron_job() TO gatehouse_app;
    REVOKE ALL ON cleanup_settings, cleanup_runs FROM gatehouse_app;
    GRANT SELECT ON cleanup_settings, cleanup_runs TO gatehouse_app;
    GRANT UPDATE (batch_size, session_retention, one_time_retention, outbox_retention, updated_at)
      ON cleanup_settings TO gatehouse_app;
  END IF;
  -- pg_cron where possible, else a NOTICE (never an error: the migration must apply everywhere).
  PERFORM gatehouse_schedule_cleanup();
END;
$$;
