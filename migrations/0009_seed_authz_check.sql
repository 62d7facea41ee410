-- The permission AuthorizationService requires of its callers (issue 14), built in like
-- org:manage: a resource server's role can name it without anyone defining it first.
-- Forward-only: never edit a migration that has been applied; add a new file.
INSERT INTO permissions (name, description)
VALUES ('authz:check', 'Ask AuthorizationService whether a principal holds a permission')
ON CONFLICT (name) DO NOTHING;
