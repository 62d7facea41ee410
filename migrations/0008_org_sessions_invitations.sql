-- Organisations, phase 2 (issue 14): a session's active organisation, invitations by email, and
-- audit events findable by organisation.
-- Forward-only: never edit a migration that has been applied; add a new file.

-- The organisation a session acts in (chosen at Login/Register or by SwitchOrganization); NULL
-- for none. Access tokens of the session carry it as `org_id`. Whether the user is still a
-- member is decided at every check, not here: a removed membership leaves the column set and
-- grants nothing.
ALTER TABLE sessions
  ADD COLUMN organization_id uuid REFERENCES organizations (id) ON DELETE SET NULL;

-- An invitation to join an organisation with organisation roles, mailed to an address through
-- the outbox. Its token (`ghin_...`, 256 random bits) is single-use; only its SHA-256 is kept.
-- Accepted by a signed-in user whose email is `email_normalized` (AuthService.AcceptInvitation)
-- or by registering with that address (AuthService.Register with invitation_token).
CREATE TABLE invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email_normalized text NOT NULL,
  -- Organisation-scope roles the member gets on acceptance (checked again then: a role deleted
  -- since is skipped).
  role_ids uuid[] NOT NULL DEFAULT '{}',
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  -- Who invited: a user or a service account (or neither, for the CLI and imports).
  invited_by_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  invited_by_service_account_id uuid REFERENCES service_accounts (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_by_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at timestamptz,
  CHECK (expires_at > created_at),
  CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
CREATE INDEX invitations_org_created_at_id_idx ON invitations (organization_id, created_at, id);
-- One open invitation per (organisation, address): inviting again replaces it.
CREATE UNIQUE INDEX invitations_open_key ON invitations (organization_id, email_normalized)
  WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_expires_at_idx ON invitations (expires_at);

-- The organisation an audit event is about, for ListAuditEvents' filter; recordAudit fills it
-- from the event's details.organization_id. Events before this migration get it the same way.
ALTER TABLE audit_events ADD COLUMN organization_id uuid;
UPDATE audit_events
   SET organization_id = (details ->> 'organization_id')::uuid
 WHERE details ->> 'organization_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
CREATE INDEX audit_events_organization_idx ON audit_events (organization_id, id)
  WHERE organization_id IS NOT NULL;
