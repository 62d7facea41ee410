-- Account mail (issue 6): the transactional outbox. A message row is written in the same
-- transaction as the one-time token it carries; senders (every Gatehouse instance) drain it.
-- Delivery guarantees and the life of a row: docs/mail.md.
-- Forward-only: never edit a migration that has been applied; add a new file.

CREATE TABLE outbox_messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- What the message is for ('password_reset', 'email_verification'); a metrics label.
  kind text NOT NULL,
  recipient text NOT NULL,
  subject text NOT NULL,
  -- The rendered bodies carry a one-time link: they are blanked ('') as soon as the message is
  -- sent or given up, so a delivered token does not stay in the database.
  text_body text NOT NULL,
  html_body text NOT NULL,
  -- RFC 5322 Message-ID, fixed when queued: a resend after a crash carries the same id, so
  -- receivers (and tests) can recognise a duplicate.
  message_id text NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  -- Delivery attempts started (counted when a sender claims the row).
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- A pending row is not claimed before this (retry backoff).
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- The lease of the sender working on the row: other senders leave it alone until it expires,
  -- then take it over (the sender died or lost the database).
  locked_until timestamptz,
  locked_by text,
  -- The link inside dies then: a row still pending at this time is given up, never sent.
  expires_at timestamptz NOT NULL,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

-- Senders look for due pending rows, oldest first; pending rows are few, so the index is small.
CREATE INDEX outbox_messages_due_idx ON outbox_messages (next_attempt_at, id)
  WHERE status = 'pending';
-- The cleanup job (gatehouse_cleanup, migration 0003) removes sent rows past retention by this.
CREATE INDEX outbox_messages_sent_idx ON outbox_messages ((COALESCE(sent_at, created_at)))
  WHERE status = 'sent';
