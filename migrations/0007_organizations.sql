-- Organisations, roles with permissions and memberships (issue 14, phase 1).
-- Global roles stay where they are: users.roles and service_accounts.roles hold role NAMES, the
-- existing `admin` keeps its meaning, and a name without a `roles` row is a role with no
-- permissions. A global role's permissions come from the `roles` row of scope 'global' with that
-- name. Effective permissions of a principal in organisation O = permissions of its global roles
-- ∪ permissions of its membership roles in O (only while O is active and it is a member).
-- Forward-only: never edit a migration that has been applied; add a new file.

-- Permission catalog: resource:action.
CREATE TABLE permissions (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$' AND length(name) <= 128),
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Built in: lets a member administer its own organisation (delegated administration, a later
-- phase); seeded so roles can already name it.
INSERT INTO permissions (name, description)
VALUES ('org:manage', 'Administer the organisation: its members and their roles');

-- Roles: named sets of permissions; scope 'global' (apply everywhere, granted through
-- users.roles / service_accounts.roles by name) or 'organization' (granted per membership).
CREATE TABLE roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  scope text NOT NULL CHECK (scope IN ('global', 'organization')),
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scope, name)
);
CREATE INDEX roles_name_id_idx ON roles (name, id);

CREATE TABLE role_permissions (
  role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  permission text NOT NULL REFERENCES permissions (name) ON DELETE RESTRICT,
  PRIMARY KEY (role_id, permission)
);
CREATE INDEX role_permissions_permission_idx ON role_permissions (permission);

CREATE TABLE organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  display_name text NOT NULL DEFAULT '',
  -- string -> string, small (<= 32 keys, values <= 256 characters; checked by the service)
  attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
-- A deleted organisation frees its slug.
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug) WHERE status <> 'deleted';
CREATE INDEX organizations_created_at_id_idx ON organizations (created_at, id);

-- A member is a user or a service account; its organisation roles are role ids of scope
-- 'organization' (the service refuses others).
CREATE TABLE memberships (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  user_id uuid REFERENCES users (id) ON DELETE CASCADE,
  service_account_id uuid REFERENCES service_accounts (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
);
CREATE UNIQUE INDEX memberships_org_user_key ON memberships (organization_id, user_id)
  WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_org_sa_key ON memberships (organization_id, service_account_id)
  WHERE service_account_id IS NOT NULL;
CREATE INDEX memberships_user_idx ON memberships (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX memberships_sa_idx ON memberships (service_account_id)
  WHERE service_account_id IS NOT NULL;
CREATE INDEX memberships_org_created_at_id_idx ON memberships (organization_id, created_at, id);

CREATE TABLE membership_roles (
  membership_id uuid NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
  role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  PRIMARY KEY (membership_id, role_id)
);
CREATE INDEX membership_roles_role_idx ON membership_roles (role_id);

-- Change notifications, on the channel of 0005/0006: any committed change to the permission
-- model sends the one coarse payload 'authz' (phase 1: listeners drop every cached permission
-- answer; identical payloads within one transaction are sent once). Role changes of users and
-- service accounts already send 'u:<id>' / 'sa:<id>' (0005, 0006).
CREATE FUNCTION gatehouse_notify_authz_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_session_changes', 'authz');
  RETURN NULL;
END
$$;

CREATE TRIGGER permissions_notify_authz
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON permissions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_authz_changed();
CREATE TRIGGER roles_notify_authz
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_authz_changed();
CREATE TRIGGER role_permissions_notify_authz
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_authz_changed();
CREATE TRIGGER memberships_notify_authz
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON memberships
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_authz_changed();
CREATE TRIGGER membership_roles_notify_authz
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON membership_roles
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_authz_changed();
CREATE TRIGGER organizations_notify_authz_status
  AFTER UPDATE OF status ON organizations
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION gatehouse_notify_authz_changed();
CREATE TRIGGER organizations_notify_authz_deleted
  AFTER DELETE OR TRUNCATE ON organizations
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_authz_changed();
