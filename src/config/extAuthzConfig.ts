import { z } from 'zod';
import { envBool } from '../envBool.ts';
import { type EnvRule, list } from './envFields.ts';

// A header name as Envoy hands them to ext_authz: lower case, a token (RFC 9110), no pseudo
// headers (`:path`) and nothing Envoy refuses to set or remove (`host`).
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'te']);
const headerProblem = (name: string) =>
  !HEADER_NAME.test(name)
    ? `"${name}" is not a header name (lower case letters, digits and -, at most 64)`
    : RESERVED.has(name)
      ? `"${name}" is a header Envoy does not let an authorization service set or remove`
      : null;

const headerName = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) => v.trim().toLowerCase())
    .superRefine((v, ctx) => {
      const problem = headerProblem(v);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    });

/**
 * Envoy ext_authz (envoy.service.auth.v3.Authorization/Check): where a checked HTTP request
 * carries its credential, and the headers the upstream receives with the identity Gatehouse
 * resolved. See docs/envoy.md.
 */
export const extAuthzEnvShape = {
  // In order; the first one present is used. `authorization` must be `Bearer <credential>`,
  // any other header carries the credential as it is.
  EXT_AUTHZ_CREDENTIAL_HEADERS: list
    .transform((names) => names.map((n) => n.toLowerCase()))
    .superRefine((names, ctx) => {
      for (const n of names) {
        const problem = headerProblem(n);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      }
    })
    .transform((names) => (names.length > 0 ? names : ['authorization', 'x-api-key'])),
  // Whether the upstream gets the request without the credential header it was admitted with.
  EXT_AUTHZ_REMOVE_CREDENTIAL: envBool.default(false),
  EXT_AUTHZ_USER_ID_HEADER: headerName('x-gatehouse-user-id'),
  EXT_AUTHZ_SERVICE_ACCOUNT_ID_HEADER: headerName('x-gatehouse-service-account-id'),
  EXT_AUTHZ_API_KEY_ID_HEADER: headerName('x-gatehouse-api-key-id'),
  EXT_AUTHZ_SESSION_ID_HEADER: headerName('x-gatehouse-session-id'),
  EXT_AUTHZ_ROLES_HEADER: headerName('x-gatehouse-roles'),
  EXT_AUTHZ_ORGANIZATION_ID_HEADER: headerName('x-gatehouse-organization-id'),
  EXT_AUTHZ_PRINCIPAL_TYPE_HEADER: headerName('x-gatehouse-principal-type'),
  // Any header of the checked request starting with this is removed before the upstream sees
  // it (a client cannot forge one Gatehouse does not set); empty: only the identity headers.
  EXT_AUTHZ_STRIP_HEADER_PREFIX: z
    .string()
    .default('x-gatehouse-')
    .transform((v) => v.trim().toLowerCase())
    .refine((v) => v === '' || /^[a-z0-9-]{2,64}$/.test(v), {
      message: 'must be empty or a header name prefix (lower case letters, digits and -)',
    }),
};

type ExtAuthzEnv = z.infer<z.ZodObject<typeof extAuthzEnvShape>>;

/** The identity headers an admitted request carries upstream, by what they hold. */
export interface IdentityHeaderNames {
  userId: string;
  serviceAccountId: string;
  apiKeyId: string;
  sessionId: string;
  roles: string;
  organizationId: string;
  principalType: string;
}

export interface ExtAuthzConfig {
  /** Headers that may carry the checked request's credential, in the order they are read. */
  credentialHeaders: readonly string[];
  /** Whether the credential header is removed from the request the upstream receives. */
  removeCredential: boolean;
  identityHeaders: IdentityHeaderNames;
  /** Incoming headers with this prefix are removed ('' = only the identity headers). */
  stripHeaderPrefix: string;
}

const IDENTITY_SETTINGS = {
  userId: 'EXT_AUTHZ_USER_ID_HEADER',
  serviceAccountId: 'EXT_AUTHZ_SERVICE_ACCOUNT_ID_HEADER',
  apiKeyId: 'EXT_AUTHZ_API_KEY_ID_HEADER',
  sessionId: 'EXT_AUTHZ_SESSION_ID_HEADER',
  roles: 'EXT_AUTHZ_ROLES_HEADER',
  organizationId: 'EXT_AUTHZ_ORGANIZATION_ID_HEADER',
  principalType: 'EXT_AUTHZ_PRINCIPAL_TYPE_HEADER',
} as const satisfies Record<keyof IdentityHeaderNames, keyof ExtAuthzEnv>;

export const extAuthzEnvRules: EnvRule<ExtAuthzEnv>[] = [
  {
    // One header per fact, and never the credential's own: an upstream must be able to tell
    // what Gatehouse said from what the client sent.
    reads: [...Object.values(IDENTITY_SETTINGS), 'EXT_AUTHZ_CREDENTIAL_HEADERS'],
    problems: (e) => {
      const problems: string[] = [];
      const seen = new Map<string, string>();
      for (const setting of Object.values(IDENTITY_SETTINGS)) {
        const name = e[setting];
        const other = seen.get(name);
        if (other !== undefined) problems.push(`${setting}: "${name}" is also ${other}`);
        else if (e.EXT_AUTHZ_CREDENTIAL_HEADERS.includes(name)) {
          problems.push(`${setting}: "${name}" is one of EXT_AUTHZ_CREDENTIAL_HEADERS`);
        }
        seen.set(name, setting);
      }
      return problems;
    },
  },
];

export function toExtAuthzConfig(e: ExtAuthzEnv): ExtAuthzConfig {
  const identityHeaders = Object.fromEntries(
    Object.entries(IDENTITY_SETTINGS).map(([key, setting]) => [key, e[setting]]),
  ) as unknown as IdentityHeaderNames;
  return {
    credentialHeaders: e.EXT_AUTHZ_CREDENTIAL_HEADERS,
    removeCredential: e.EXT_AUTHZ_REMOVE_CREDENTIAL,
    identityHeaders,
    stripHeaderPrefix: e.EXT_AUTHZ_STRIP_HEADER_PREFIX,
  };
}
