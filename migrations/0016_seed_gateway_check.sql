-- The permission envoy.service.auth.v3.Authorization/Check requires of its callers (issue 16,
-- Envoy ext_authz), built in like authz:check (0009): a gateway's service account gets it
-- through a role that names it, without anyone defining it first.
-- Forward-only: never edit a migration that has been applied; add a new file.
INSERT INTO permissions (name, description)
VALUES ('gateway:check', 'Ask Envoy''s ext_authz Check whether a request may pass to its upstream')
ON CONFLICT (name) DO NOTHING;
