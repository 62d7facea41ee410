/**
 * Test data: bulk users and sessions through SQL (one INSERT ... SELECT generate_series with one
 * precomputed argon2id hash made with the server's parameters, so logins never rehash); tokens
 * through the Login RPC, or, where tens of thousands are needed, through the server's own
 * KeyStore signing code and key; service accounts and their API keys through the admin CLI's
 * own use case (createServiceAccountWithKey, which makes the key with createApiKey).
 */
import { createHash, randomBytes } from 'node:crypto';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import argon2 from 'argon2';
import type pg from 'pg';
import { createServiceAccountWithKey } from '../../src/admin/createServiceAccountWithKey.ts';
import type { ApiKeyLimits } from '../../src/config/apiKeyConfig.ts';
import type {
  ListUsersResponse,
  UserAdminServiceClient,
} from '../../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import type {
  AuthServiceClient,
  LoginResponse,
  Tokens,
} from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import { createKeyStore } from '../../src/keys/createKeyStore.ts';
import { createLogger } from '../../src/log.ts';
import { createDatabase } from '../../src/storage/createDatabase.ts';
import type { BenchDatabase } from './database.ts';
import type { Argon2Params, PgRefreshChain, TokenSettings } from './protocol.ts';
import { mapLimit, unary } from './rpc.ts';

/** Every seeded account has this password (long enough, not common, unrelated to the email). */
export const BENCH_PASSWORD = 'violet-harbour-anchors-9';
export const ADMIN_EMAIL = 'bench-admin@example.test';

export const benchEmail = (i: number) => `bench-${String(i).padStart(6, '0')}@example.test`;

/** The scale scenario's users: scale-0000001 .. scale-<n>, apart from the other scenarios' ones. */
export const scaleEmail = (i: number) => `scale-${String(i).padStart(7, '0')}@example.test`;

/** Sessions and refresh tokens per scale user, and audit rows per scale user. */
export const SCALE_SESSIONS_PER_USER = 5;
export const SCALE_AUDIT_PER_USER = 10;
/** The user agent of every seeded scale session (how the samplers find them). */
export const SCALE_USER_AGENT = 'gatehouse-bench-scale';

/**
 * The refresh token of scale user `user`'s session `slot` (1..5): the same shape as the
 * server's (`ghr_` + 256 bits, base64url), derived from the pair so the seed SQL can store its
 * SHA-256 and the benchmark can present it later without keeping 5 million secrets. Slots 1-4
 * are always live; slot 5 of every 20th user is dead past retention (the cleanup's work).
 */
export const scaleRefreshToken = (user: number, slot: number) =>
  `ghr_${createHash('sha256').update(`${SCALE_USER_AGENT}:${user}:${slot}`).digest('base64url')}`;

/** How long each step of one scale tier's seeding took, in seconds. */
export type ScaleSeedTimings = Record<string, number>;

/** The roles every seeded service account and its key hold (a role check has something to do). */
export const BENCH_SERVICE_ACCOUNT_ROLES = ['bench-reader'];

/** The caller and the checks of check-permission (see Seeder.permissionSubjects). */
export interface PermissionSubjects {
  credential: string;
  checks: { userId: string; organizationId: string; permission: string }[];
}

/** A seeded service account's API key: the secret, and what a token minted from it carries. */
export interface SeededApiKey {
  serviceAccountId: string;
  apiKeyId: string;
  secret: string;
  roles: string[];
}

export interface SeedOptions {
  argon2: Argon2Params;
  sessionIdleSec: number;
  sessionAbsoluteSec: number;
  /** The server's token settings (issuer, audience, algorithm, lifetimes). */
  tokens: TokenSettings;
  /** The server's API key bounds (lifetime, count), which key creation applies. */
  apiKeyLimits: ApiKeyLimits;
}

export class Seeder {
  readonly #db: BenchDatabase;
  readonly #auth: AuthServiceClient;
  readonly #admin: UserAdminServiceClient;
  readonly #options: SeedOptions;
  #hash: Promise<string> | undefined;
  #users = 0;
  #allocated = 0;
  #adminToken: Promise<string> | undefined;
  #serviceAccounts = 0;

  constructor(
    db: BenchDatabase,
    auth: AuthServiceClient,
    admin: UserAdminServiceClient,
    options: SeedOptions,
  ) {
    this.#db = db;
    this.#auth = auth;
    this.#admin = admin;
    this.#options = options;
  }

  /** argon2id of BENCH_PASSWORD with the server's parameters (NFKC, as the server hashes). */
  passwordHash(): Promise<string> {
    this.#hash ??= argon2.hash(BENCH_PASSWORD.normalize('NFKC'), {
      type: argon2.argon2id,
      ...this.#options.argon2,
    });
    return this.#hash;
  }

  /**
   * Makes sure users bench-000001 .. bench-<n> exist, created 1 ms apart in that order (before
   * now, so accounts registered later sort after them), plus the admin account first of all.
   */
  async ensureUsers(n: number): Promise<void> {
    if (n <= this.#users) return;
    const hash = await this.passwordHash();
    if (this.#users === 0) {
      await this.#db.pool.query(
        `INSERT INTO users (email, email_normalized, display_name, password_hash, roles, created_at)
         VALUES ($1, $1, 'Bench Admin', $2, '{admin}', now() - interval '1 day')`,
        [ADMIN_EMAIL, hash],
      );
    }
    await this.#db.pool.query(
      `INSERT INTO users (email, email_normalized, display_name, password_hash, created_at, updated_at)
       SELECT 'bench-' || lpad(g::text, 6, '0') || '@example.test',
              'bench-' || lpad(g::text, 6, '0') || '@example.test',
              'Bench User ' || g, $1,
              now() - interval '1 hour' + g * interval '1 millisecond', now()
       FROM generate_series($2::int, $3::int) AS g`,
      [hash, this.#users + 1, n],
    );
    await this.#db.pool.query('ANALYZE users');
    this.#users = n;
  }

  /**
   * Reserves `n` seeded accounts nobody else uses (bench-<first> .. bench-<first+n-1>), so each
   * scenario's sessions, lockout counters and rows are its own; returns their emails.
   */
  async allocate(n: number): Promise<string[]> {
    const first = this.#allocated + 1;
    this.#allocated += n;
    await this.ensureUsers(this.#allocated);
    return Array.from({ length: n }, (_, i) => benchEmail(first + i));
  }

  /** Logs in `emails` (all with BENCH_PASSWORD) through the Login RPC: one new session each. */
  async login(emails: readonly string[], parallel = 8): Promise<Tokens[]> {
    return mapLimit(emails, parallel, async (identifier) => {
      const res = await unary<object, LoginResponse>(this.#auth, 'login', {
        identifier,
        password: BENCH_PASSWORD,
      });
      if (!res.tokens) throw new Error(`Login of ${identifier} returned no tokens`);
      return res.tokens;
    });
  }

  /**
   * `count` distinct access tokens over `sessions` live sessions (inserted directly), signed by
   * the server's own KeyStore code with its active key from the database: the exact token
   * format Login and Refresh return, at the price of one signature each (minting tens of
   * thousands through Refresh calls would take minutes).
   */
  async mintAccessTokens(count: number, sessions: number): Promise<string[]> {
    const live = await this.insertSessions(Math.max(1, Math.min(sessions, count)));
    return this.signAccessTokens(count, live);
  }

  /** `count` access tokens over the given sessions in turn, signed as mintAccessTokens does. */
  async signAccessTokens(
    count: number,
    live: readonly { userId: string; sessionId: string }[],
  ): Promise<string[]> {
    const pool = await this.#pool();
    const keys = createKeyStore(
      pool,
      { ...this.#options.tokens, refreshSec: 3600, privateKeyFile: undefined },
      createLogger('silent'),
    );
    try {
      await keys.start();
      return await mapLimit(Array.from({ length: count }), 64, async (_, i) => {
        const s = live[i % live.length] as { userId: string; sessionId: string };
        return (
          await keys.sign({
            userId: s.userId,
            sessionId: s.sessionId,
            roles: [],
            organization: null,
            amr: ['pwd'],
            authTime: new Date(),
          })
        ).token;
      });
    } finally {
      keys.stop();
      await pool.end();
    }
  }

  /**
   * `count` new service accounts (bench-sa-<n>), each holding BENCH_SERVICE_ACCOUNT_ROLES with
   * one key asking for all of them: made exactly as `scripts/run admin service-account create`
   * makes them (one transaction and audit row each, the secret generated and hashed by
   * createApiKey), so the keys are the ones a real client would present.
   */
  async serviceAccountKeys(count: number): Promise<SeededApiKey[]> {
    const pool = await this.#pool();
    try {
      const info = { clientIp: '', userAgent: 'gatehouse-bench', requestId: '' };
      return await mapLimit(Array.from({ length: count }), 4, async () => {
        const name = `bench-sa-${String(++this.#serviceAccounts).padStart(4, '0')}`;
        const { account, key } = await createServiceAccountWithKey(
          { pool, apiKeyLimits: this.#options.apiKeyLimits },
          { name, displayName: '', description: '', roles: BENCH_SERVICE_ACCOUNT_ROLES },
          info,
        );
        return {
          serviceAccountId: account.id,
          apiKeyId: key.apiKey.id,
          secret: key.secret,
          roles: key.apiKey.roles,
        };
      });
    } finally {
      await pool.end();
    }
  }

  /**
   * What check-permission asks about: `count` fresh seeded users, members of one organisation
   * with an organisation role granting `bench:read`, and the caller, a service account whose
   * global role grants `authz:check` (the permission AuthorizationService requires), with one
   * API key. The catalog, roles, organisation and memberships are written in SQL, as
   * OrganizationAdminService would write them; the account and key through the CLI's use case.
   */
  async permissionSubjects(count: number): Promise<PermissionSubjects> {
    const emails = await this.allocate(count);
    const { rows } = await this.#db.pool.query<{ organization_id: string; user_id: string }>(
      `WITH perms AS (
         INSERT INTO permissions (name) VALUES ('authz:check'), ('bench:read')
         ON CONFLICT (name) DO NOTHING),
       checker AS (
         INSERT INTO roles (name, scope) VALUES ('bench-checker', 'global')
         ON CONFLICT (scope, name) DO UPDATE SET name = EXCLUDED.name RETURNING id),
       staff AS (
         INSERT INTO roles (name, scope) VALUES ('bench-staff', 'organization')
         ON CONFLICT (scope, name) DO UPDATE SET name = EXCLUDED.name RETURNING id),
       org AS (
         INSERT INTO organizations (slug, display_name)
         VALUES ('bench-org-' || substr(md5(random()::text), 1, 8), 'Bench organisation')
         RETURNING id),
       members AS (
         INSERT INTO memberships (organization_id, user_id)
         SELECT org.id, users.id FROM org, users WHERE users.email_normalized = ANY($1)
         RETURNING id, organization_id, user_id)
       SELECT organization_id, user_id FROM members`,
      [emails],
    );
    // Role grants in a second statement: they need the permissions the first one inserted.
    await this.#db.pool.query(
      `INSERT INTO role_permissions (role_id, permission)
       SELECT id, CASE name WHEN 'bench-checker' THEN 'authz:check' ELSE 'bench:read' END
       FROM roles WHERE name IN ('bench-checker', 'bench-staff')
       ON CONFLICT DO NOTHING`,
    );
    await this.#db.pool.query(
      `INSERT INTO membership_roles (membership_id, role_id)
       SELECT m.id, r.id FROM memberships m, roles r
       WHERE m.user_id = ANY($1::uuid[]) AND r.name = 'bench-staff' AND r.scope = 'organization'`,
      [rows.map((r) => r.user_id)],
    );
    const pool = await this.#pool();
    try {
      const name = `bench-checker-${String(++this.#serviceAccounts).padStart(4, '0')}`;
      const { key } = await createServiceAccountWithKey(
        { pool, apiKeyLimits: this.#options.apiKeyLimits },
        { name, displayName: '', description: '', roles: ['bench-checker'] },
        { clientIp: '', userAgent: 'gatehouse-bench', requestId: '' },
      );
      return {
        credential: key.secret,
        checks: rows.map((r) => ({
          userId: r.user_id,
          organizationId: r.organization_id,
          permission: 'bench:read',
        })),
      };
    } finally {
      await pool.end();
    }
  }

  /**
   * A service account whose global role `role` grants `permission` (both seeded by a
   * migration: `gateway:check` 0016, `revocations:watch` 0014), with one API key, made through
   * the CLI's use case like the other service accounts. Returns the key's secret. The gateway of
   * ext-authz-check and the verifier of verify.
   */
  async serviceAccountKeyWith(role: string, permission: string): Promise<string> {
    await this.#db.pool.query(
      `WITH r AS (
         INSERT INTO roles (name, scope) VALUES ($1, 'global')
         ON CONFLICT (scope, name) DO UPDATE SET name = EXCLUDED.name RETURNING id)
       INSERT INTO role_permissions (role_id, permission)
       SELECT id, $2 FROM r ON CONFLICT DO NOTHING`,
      [role, permission],
    );
    const pool = await this.#pool();
    try {
      const name = `${role}-${String(++this.#serviceAccounts).padStart(4, '0')}`;
      const { key } = await createServiceAccountWithKey(
        { pool, apiKeyLimits: this.#options.apiKeyLimits },
        { name, displayName: '', description: '', roles: [role] },
        { clientIp: '', userAgent: 'gatehouse-bench', requestId: '' },
      );
      return key.secret;
    } finally {
      await pool.end();
    }
  }

  /** Adds scale users `from` .. `to` (see seedScaleUsers) with the server's parameters. */
  async seedScaleTier(from: number, to: number): Promise<ScaleSeedTimings> {
    return seedScaleUsers(this.#db.pool, {
      passwordHash: await this.passwordHash(),
      sessionIdleSec: this.#options.sessionIdleSec,
      sessionAbsoluteSec: this.#options.sessionAbsoluteSec,
      from,
      to,
    });
  }

  /**
   * `count` live seeded scale sessions (user and session ids) picked at random over the whole
   * table, none of `exclude`: sessions no cache has seen, for the cache-miss path.
   */
  async scaleSessions(
    count: number,
    exclude: ReadonlySet<string>,
  ): Promise<{ userId: string; sessionId: string }[]> {
    const { rows } = await this.#db.pool.query<{ id: string; user_id: string }>(
      `SELECT id, user_id FROM sessions
       WHERE user_agent = $1 AND revoked_at IS NULL AND expires_at > now()
         AND NOT (id = ANY($2::uuid[]))
       ORDER BY random() LIMIT $3`,
      [SCALE_USER_AGENT, [...exclude], count],
    );
    if (rows.length < count) throw new Error(`only ${rows.length} unused scale sessions left`);
    return rows.map((r) => ({ userId: r.user_id, sessionId: r.id }));
  }

  /** User ids of `count` random scale users among the first `users`. */
  async scaleUserIds(count: number, users: number): Promise<string[]> {
    const emails = Array.from({ length: count }, () =>
      scaleEmail(1 + Math.floor(Math.random() * users)),
    );
    const { rows } = await this.#db.pool.query<{ id: string }>(
      'SELECT id FROM users WHERE email_normalized = ANY($1)',
      [emails],
    );
    return rows.map((r) => r.id);
  }

  /** A small pool on the benchmark database for the server's own code to use. */
  #pool() {
    return createDatabase({
      url: this.#db.url,
      poolMax: 4,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 3000,
    });
  }

  /** Live sessions of `count` fresh accounts, inserted directly (as insertSession does). */
  async insertSessions(count: number): Promise<{ userId: string; sessionId: string }[]> {
    const emails = await this.allocate(count);
    const { sessionIdleSec, sessionAbsoluteSec } = this.#options;
    const { rows } = await this.#db.pool.query<{ user_id: string; id: string }>(
      `INSERT INTO sessions (id, user_id, idle_expires_at, expires_at, ip_address, user_agent)
       SELECT gen_random_uuid(), id, now() + make_interval(secs => $2),
              now() + make_interval(secs => $3), '127.0.0.1', 'gatehouse-bench'
       FROM users WHERE email_normalized = ANY($1)
       RETURNING id, user_id`,
      [emails, Math.min(sessionIdleSec, sessionAbsoluteSec), sessionAbsoluteSec],
    );
    return rows.map((r) => ({ userId: r.user_id, sessionId: r.id }));
  }

  /** One session per chain for the raw-pg Refresh baseline, inserted directly. */
  async pgRefreshChains(count: number): Promise<PgRefreshChain[]> {
    const chains: PgRefreshChain[] = [];
    for (const { userId, sessionId } of await this.insertSessions(count)) {
      const refreshToken = `ghr_${randomBytes(32).toString('base64url')}`;
      await this.#db.pool.query(
        `INSERT INTO refresh_tokens (session_id, token_hash, expires_at)
         SELECT id, $2, LEAST(idle_expires_at, expires_at) FROM sessions WHERE id = $1`,
        [sessionId, createHash('sha256').update(refreshToken).digest()],
      );
      chains.push({ userId, sessionId, refreshToken });
    }
    return chains;
  }

  /** An access token of the admin account (roles {admin} set in SQL before it logs in). */
  adminToken(): Promise<string> {
    this.#adminToken ??= (async () => {
      await this.ensureUsers(1);
      const [tokens] = await this.login([ADMIN_EMAIL]);
      return (tokens as Tokens).accessToken;
    })();
    return this.#adminToken;
  }

  /**
   * The next_page_token that fetches page `page` (page_size `pageSize`), by walking from page 1
   * as `adminToken` (default: adminToken()); null when ListUsers answers UNIMPLEMENTED (not there
   * yet on this tree).
   */
  async listUsersPageToken(
    page: number,
    pageSize: number,
    adminToken?: string,
  ): Promise<string | null> {
    const token = adminToken ?? (await this.adminToken());
    let pageToken = '';
    for (let p = 1; p < page; p++) {
      let res: ListUsersResponse;
      try {
        res = await unary<object, ListUsersResponse>(
          this.#admin,
          'listUsers',
          { pageSize, pageToken, query: '', role: '', status: 0 },
          token,
        );
      } catch (error) {
        if ((error as ServiceError).code === grpcStatus.UNIMPLEMENTED) return null;
        throw error;
      }
      if (res.users.length !== pageSize || res.nextPageToken === '') {
        throw new Error(`ListUsers page ${p} has ${res.users.length} users and no next page`);
      }
      pageToken = res.nextPageToken;
    }
    return pageToken;
  }
}

/** The tables a scale tier grows. */
const SCALE_TABLES = ['users', 'sessions', 'refresh_tokens', 'audit_events'];

/**
 * Adds scale users `from` .. `to` (scaleEmail, all with one precomputed hash of BENCH_PASSWORD)
 * in set-based SQL, in one transaction: 5 sessions each with one refresh token
 * (scaleRefreshToken), 10 audit rows each, inserted in time order as a live system appends them;
 * 1% of the sessions (with their tokens) and 1% of the audit rows are past retention, so a
 * cleanup run has work proportional to the data. As a bulk load does, the secondary indexes of
 * the four tables (those backing no constraint) are dropped first and rebuilt from their own
 * definitions (pg_get_indexdef) before the commit, the same at every tier; primary keys, unique
 * constraints, foreign keys, CHECKs and triggers apply to every row. Then VACUUM ANALYZE, as
 * autovacuum would leave the tables. Returns how long each step took.
 */
export async function seedScaleUsers(
  pool: pg.Pool,
  tier: {
    passwordHash: string;
    sessionIdleSec: number;
    sessionAbsoluteSec: number;
    from: number;
    to: number;
  },
): Promise<ScaleSeedTimings> {
  const { passwordHash: hash, sessionIdleSec, sessionAbsoluteSec, from, to } = tier;
  const idle = Math.min(sessionIdleSec, sessionAbsoluteSec);
  const timings: ScaleSeedTimings = {};
  const client = await pool.connect();
  const step = async (name: string, text: string, values: unknown[] = []) => {
    const t0 = performance.now();
    const result = await client.query(text, values);
    timings[name] = Math.round((performance.now() - t0) / 100 + (timings[name] ?? 0) * 10) / 10;
    return result;
  };
  try {
    // Bench data: a crash may lose it, so commits need not wait for the WAL flush.
    await step(
      'settings',
      "SET synchronous_commit = off; SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'",
    );
    await step('begin', 'BEGIN');
    const { rows: indexes } = await step(
      'drop indexes',
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
       WHERE t.relname = ANY($1) AND t.relnamespace = current_schema()::regnamespace
         AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
      [SCALE_TABLES],
    );
    for (const { name } of indexes as { name: string }[]) {
      await step('drop indexes', `DROP INDEX ${name}`);
    }
    await step(
      'ids',
      `CREATE TEMP TABLE scale_users ON COMMIT DROP AS
       SELECT g, gen_random_uuid() AS id FROM generate_series($1::int, $2::int) AS g`,
      [from, to],
    );
    await step(
      'users',
      `INSERT INTO users (id, email, email_normalized, display_name, password_hash, created_at, updated_at)
       SELECT id, 'scale-' || lpad(g::text, 7, '0') || '@example.test',
              'scale-' || lpad(g::text, 7, '0') || '@example.test',
              'Scale User ' || g, $1,
              now() - interval '2 days' + g * interval '100 microseconds', now()
       FROM scale_users`,
      [hash],
    );
    await step(
      'ids',
      `CREATE TEMP TABLE scale_sessions ON COMMIT DROP AS
       SELECT u.g, k, gen_random_uuid() AS id, u.id AS user_id, d.dead,
              CASE WHEN d.dead THEN now() - interval '40 days'
                   ELSE now() - (u.g % 3600) * interval '1 second' END AS created
       FROM scale_users u CROSS JOIN generate_series(1, ${SCALE_SESSIONS_PER_USER}) AS k,
            LATERAL (SELECT u.g % 20 = 0 AND k = 5 AS dead) d`,
    );
    await step(
      'sessions',
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, expires_at,
                             ip_address, user_agent, amr, auth_time)
       SELECT id, user_id, created, created,
              CASE WHEN dead THEN now() - interval '10 days' ELSE now() + make_interval(secs => $1) END,
              CASE WHEN dead THEN now() - interval '10 days' ELSE now() + make_interval(secs => $2) END,
              '127.0.0.1', $3, '{pwd}', created
       FROM scale_sessions ORDER BY created`,
      [idle, sessionAbsoluteSec, SCALE_USER_AGENT],
    );
    await step(
      'refresh_tokens',
      `INSERT INTO refresh_tokens (session_id, token_hash, created_at, expires_at)
       SELECT id,
              sha256(convert_to('ghr_' || rtrim(translate(encode(
                sha256(convert_to($1 || ':' || g || ':' || k, 'UTF8')), 'base64'), '+/', '-_'), '='),
                'UTF8')),
              created,
              CASE WHEN dead THEN now() - interval '10 days' ELSE now() + make_interval(secs => $2) END
       FROM scale_sessions ORDER BY created`,
      [SCALE_USER_AGENT, idle],
    );
    await step(
      'audit_events',
      `INSERT INTO audit_events (occurred_at, actor_user_id, subject_user_id, action, outcome,
                                 ip_address, user_agent)
       SELECT t.at, u.id, u.id, CASE WHEN j % 2 = 0 THEN 'login' ELSE 'refresh' END, 'success',
              '127.0.0.1', $1
       FROM scale_users u CROSS JOIN generate_series(1, ${SCALE_AUDIT_PER_USER}) AS j,
            LATERAL (SELECT CASE WHEN (u.g * 10 + j) % 100 = 0 THEN now() - interval '400 days'
                                 ELSE now() - (${SCALE_AUDIT_PER_USER} - j) * interval '1 day'
                                      - (u.g % 86400) * interval '1 second' END AS at) t
       ORDER BY t.at`,
      [SCALE_USER_AGENT],
    );
    for (const { def } of indexes as { def: string }[]) await step('create indexes', def);
    await step('commit', 'COMMIT');
    await step('vacuum analyze', `VACUUM (ANALYZE) ${SCALE_TABLES.join(', ')}`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return timings;
}
