/**
 * `node bench/explain.ts`: the plan of every hot query, written to docs/queries.md.
 *
 * It does not copy SQL: it calls the repository functions of src/storage that the hot RPCs call
 * (Login, Refresh, ValidateToken on a session-cache miss, API key checks, Logout, ListSessions,
 * ListUsers, ListAuditEvents, the cleanup run), on a connection where PostgreSQL's auto_explain
 * reports the plan of every statement it executes back to the client, nested statements of
 * gatehouse_run_cleanup() and triggers included. Each case runs in a transaction that is rolled
 * back, so the database is left as it was. A statement of a case that reads a large table with a
 * sequential scan, or one whose small-table sequential scan has no index to fall back on (checked
 * by re-running the case with enable_seqscan off), fails the run (exit 1) after the file is
 * written, marked in it.
 *
 *   node bench/explain.ts [--database-url URL] [--users N] [--out FILE]
 *
 * --database-url: a seeded database, e.g. the one `npm run bench -- --scenarios scale
 * --keep-database` leaves behind (1M users); it must be reachable as a superuser (auto_explain
 * is loaded per connection). Without it, a scratch database is created on DATABASE_URL's server,
 * migrated, seeded with --users scale users (default 100000) exactly as the scale benchmark
 * seeds them, and dropped at the end.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import argon2 from 'argon2';
import pg from 'pg';
import type { DriverNotice, Interceptor } from 'slonik';
import {
  findApiKeyStateById,
  findApiKeyStateBySecretHash,
  touchApiKeyLastUsed,
} from '../src/storage/apiKeys.ts';
import { findAuditEventsPage, recordAudit } from '../src/storage/audit.ts';
import { runCleanup } from '../src/storage/cleanupRuns.ts';
import { createDatabase, type DatabasePool } from '../src/storage/createDatabase.ts';
import type { Db } from '../src/storage/Db.ts';
import { migrate } from '../src/storage/migrate.ts';
import {
  findRefreshTokenByHash,
  findRefreshTokenById,
  insertRefreshToken,
} from '../src/storage/refreshTokens.ts';
import { lockRefreshTokenForRotation, rotateRefreshToken } from '../src/storage/rotation.ts';
import { findConfirmedSecondFactors } from '../src/storage/secondFactors.ts';
import {
  findLiveSessionsPage,
  findSessionById,
  findSessionLiveness,
  insertSession,
  revokeSessions,
} from '../src/storage/sessions.ts';
import { sql } from '../src/storage/sql.ts';
import { findTotpFactorByUserId } from '../src/storage/totpFactors.ts';
import { findUserMembership } from '../src/storage/userMemberships.ts';
import {
  beginPasswordAttempt,
  findUserById,
  findUserByIdentifier,
  findUsersPage,
  updateUserLoginSucceeded,
} from '../src/storage/users.ts';
import { createBenchDatabase } from './lib/database.ts';
import { BENCH_PASSWORD, scaleEmail, seedScaleUsers } from './lib/seed.ts';

/**
 * A table this large read by a sequential scan is a problem. Below it the planner may rightly
 * prefer one (a few pages), so the case is re-run with enable_seqscan off to see that an index
 * would take over as the table grows.
 */
const LARGE_TABLE_ROWS = 100_000;

/** Tables that hold one row by construction, where a sequential scan is the only sensible plan. */
const SINGLE_ROW_TABLES: ReadonlyMap<string, string> = new Map([
  ['cleanup_settings', 'one row by its CHECK (id)'],
]);

interface Fixture {
  userId: string;
  email: string;
  sessionId: string;
  refreshTokenId: number;
  refreshTokenHash: Buffer;
  /** A cursor 90% into ListUsers order, as findUsersPage returns them. */
  deepUserCursor: { createdAt: string; id: string };
  /** An audit id half-way into the log (a page deep into ListAuditEvents). */
  midAuditId: number;
  apiKeySecretHash: Buffer;
  apiKeyId: string;
}

interface Case {
  rpc: string;
  /** The repository function(s) called, `file: name`. */
  source: string;
  run(tx: Db, f: Fixture): Promise<unknown>;
}

const info = { clientIp: '127.0.0.1', userAgent: 'gatehouse-explain', requestId: '' };

const CASES: Case[] = [
  {
    rpc: 'Login',
    source: 'users.ts: findUserByIdentifier',
    run: (tx, f) => findUserByIdentifier(tx, f.email),
  },
  {
    rpc: 'Login',
    source: 'users.ts: beginPasswordAttempt',
    run: (tx, f) => beginPasswordAttempt(tx, f.userId, 5),
  },
  {
    rpc: 'Login (also Reauthenticate)',
    source: 'secondFactors.ts: findConfirmedSecondFactors',
    run: (tx, f) => findConfirmedSecondFactors(tx, f.userId),
  },
  {
    rpc: 'CompleteMfaLogin',
    source: 'totpFactors.ts: findTotpFactorByUserId (FOR UPDATE)',
    run: (tx, f) => findTotpFactorByUserId(tx, f.userId, true),
  },
  {
    rpc: 'Login',
    source: 'users.ts: updateUserLoginSucceeded',
    run: (tx, f) => updateUserLoginSucceeded(tx, f.userId, null),
  },
  {
    rpc: 'Login (also Register, CompleteMfaLogin)',
    source: 'sessions.ts: insertSession (with its session.created webhook event)',
    run: (tx, f) =>
      insertSession(tx, {
        id: randomUUID(),
        userId: f.userId,
        idleTimeoutSec: 3600,
        absoluteLifetimeSec: 86_400,
        ipAddress: info.clientIp,
        userAgent: info.userAgent,
        organizationId: null,
        amr: ['pwd'],
      }),
  },
  {
    rpc: 'Login (also Register, CompleteMfaLogin)',
    source: 'refreshTokens.ts: insertRefreshToken',
    run: (tx, f) =>
      insertRefreshToken(tx, {
        sessionId: f.sessionId,
        tokenHash: randomBytes(32),
        parentId: f.refreshTokenId,
        expiresAt: new Date(Date.now() + 3_600_000),
      }),
  },
  {
    rpc: 'Login, Refresh (every audited call)',
    source: 'audit.ts: recordAudit',
    run: (tx, f) =>
      recordAudit(tx, 'login', {
        actor: f.userId,
        request: info,
        details: { session_id: f.sessionId },
      }),
  },
  {
    rpc: 'Refresh',
    source:
      'rotation.ts: lockRefreshTokenForRotation (token FOR UPDATE, with its session and user)',
    run: (tx, f) => lockRefreshTokenForRotation(tx, f.refreshTokenHash),
  },
  {
    rpc: 'Refresh (token rotated already: grace-window repeat or reuse)',
    source: 'sessions.ts: findSessionById, users.ts: findUserById',
    run: async (tx, f) => {
      await findSessionById(tx, f.sessionId);
      await findUserById(tx, f.userId);
    },
  },
  {
    rpc: 'Refresh (grace-window repeat)',
    source: 'refreshTokens.ts: findRefreshTokenById, findRefreshTokenByHash',
    run: async (tx, f) => {
      await findRefreshTokenById(tx, f.refreshTokenId);
      await findRefreshTokenByHash(tx, f.refreshTokenHash);
    },
  },
  {
    rpc: 'Refresh (session in an organisation)',
    source: 'userMemberships.ts: findUserMembership',
    run: (tx, f) => findUserMembership(tx, f.userId, randomUUID()),
  },
  {
    rpc: 'Refresh',
    source:
      'rotation.ts: rotateRefreshToken (session used, successor inserted, token linked to it)',
    run: (tx, f) =>
      rotateRefreshToken(tx, {
        sessionId: f.sessionId,
        parentId: f.refreshTokenId,
        successorHash: randomBytes(32),
        use: { idleTimeoutSec: 3600, ipAddress: info.clientIp, userAgent: info.userAgent },
      }),
  },
  {
    rpc: 'ValidateToken (session cache miss)',
    source: 'sessions.ts: findSessionLiveness',
    run: (tx, f) => findSessionLiveness(tx, f.sessionId),
  },
  {
    rpc: 'ValidateToken / ExchangeApiKey (API key, key-state cache miss)',
    source: 'apiKeys.ts: findApiKeyStateBySecretHash',
    run: (tx, f) => findApiKeyStateBySecretHash(tx, f.apiKeySecretHash),
  },
  {
    rpc: 'ValidateToken (token minted from an API key)',
    source: 'apiKeys.ts: findApiKeyStateById',
    run: (tx, f) => findApiKeyStateById(tx, f.apiKeyId),
  },
  {
    rpc: 'ValidateToken / ExchangeApiKey (API key)',
    source: 'apiKeys.ts: touchApiKeyLastUsed',
    run: (tx, f) => touchApiKeyLastUsed(tx, f.apiKeyId),
  },
  {
    rpc: 'Logout (and every revocation)',
    source: 'sessions.ts: revokeSessions',
    run: (tx, f) => revokeSessions(tx, { userId: f.userId, only: [f.sessionId] }, 'logout'),
  },
  {
    rpc: 'ListSessions',
    source: 'sessions.ts: findLiveSessionsPage',
    run: (tx, f) => findLiveSessionsPage(tx, f.userId, null, 50),
  },
  {
    rpc: 'ListUsers, first page',
    source: 'users.ts: findUsersPage',
    run: (tx) =>
      findUsersPage(
        tx,
        { status: null, role: null, prefix: null, organizationId: null },
        null,
        101,
      ),
  },
  {
    rpc: 'ListUsers, deep page (90% in)',
    source: 'users.ts: findUsersPage',
    run: (tx, f) =>
      findUsersPage(
        tx,
        { status: null, role: null, prefix: null, organizationId: null },
        f.deepUserCursor,
        101,
      ),
  },
  {
    rpc: 'ListUsers, prefix search',
    source: 'users.ts: findUsersPage',
    run: (tx) =>
      findUsersPage(
        tx,
        { status: null, role: null, prefix: 'scale-00004', organizationId: null },
        null,
        101,
      ),
  },
  {
    rpc: 'ListAuditEvents, first page',
    source: 'audit.ts: findAuditEventsPage',
    run: (tx) =>
      findAuditEventsPage(
        tx,
        { userId: null, action: null, since: null, until: null, organizationId: null },
        null,
        51,
      ),
  },
  {
    rpc: 'ListAuditEvents, deep page',
    source: 'audit.ts: findAuditEventsPage',
    run: (tx, f) =>
      findAuditEventsPage(
        tx,
        { userId: null, action: null, since: null, until: null, organizationId: null },
        f.midAuditId,
        51,
      ),
  },
  {
    rpc: 'ListAuditEvents, by user',
    source: 'audit.ts: findAuditEventsPage',
    run: (tx, f) =>
      findAuditEventsPage(
        tx,
        { userId: f.userId, action: null, since: null, until: null, organizationId: null },
        null,
        51,
      ),
  },
  {
    rpc: 'ListAuditEvents, by action',
    source: 'audit.ts: findAuditEventsPage',
    run: (tx) =>
      findAuditEventsPage(
        tx,
        { userId: null, action: 'logout', since: null, until: null, organizationId: null },
        null,
        51,
      ),
  },
  {
    rpc: 'ListAuditEvents, by organisation',
    source: 'audit.ts: findAuditEventsPage',
    run: (tx) =>
      findAuditEventsPage(
        tx,
        { userId: null, action: null, since: null, until: null, organizationId: randomUUID() },
        null,
        51,
      ),
  },
  {
    rpc: 'Cleanup run (every statement of gatehouse_run_cleanup())',
    source: 'cleanupRuns.ts: runCleanup',
    run: async (tx, f) => {
      // Work for every branch, as the seeded dead 1% gives it (removed again by the rollback).
      await tx.query(sql.typeAlias('void')`
        WITH dead AS (
          INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, expires_at)
          SELECT gen_random_uuid(), ${f.userId}, now() - interval '40 days',
                 now() - interval '40 days', now() - interval '10 days', now() - interval '10 days'
          FROM generate_series(1, 1000)
          RETURNING id)
        INSERT INTO refresh_tokens (session_id, token_hash, created_at, expires_at)
        SELECT id, sha256(convert_to(id::text, 'UTF8')), now() - interval '40 days',
               now() - interval '10 days'
        FROM dead`);
      await tx.query(sql.typeAlias('void')`
        INSERT INTO audit_events (occurred_at, subject_user_id, action, outcome)
        SELECT now() - interval '400 days', ${f.userId}, 'login', 'success'
        FROM generate_series(1, 2000)`);
      return runCleanup(tx, 'manual', null);
    },
  },
];

/** One node of auto_explain's JSON plan. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Plan Rows'?: number;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

interface Statement {
  text: string;
  plan: PlanNode;
}

const CONDITION_KEYS = [
  'Index Cond',
  'Recheck Cond',
  'Hash Cond',
  'Join Filter',
  'Filter',
  'Sort Key',
  'One-Time Filter',
];

function renderPlan(node: PlanNode, depth = 0, out: string[] = []): string[] {
  const pad = '  '.repeat(depth);
  const head = [
    node['Node Type'],
    node['Scan Direction'] === 'Backward' ? 'Backward' : '',
    node['Index Name'] ? `using ${node['Index Name']}` : '',
    node['Relation Name'] ? `on ${node['Relation Name']}` : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
  const actual =
    node['Actual Rows'] === undefined
      ? ''
      : ` actual rows=${node['Actual Rows']} loops=${node['Actual Loops'] ?? 1}`;
  out.push(`${pad}${depth > 0 ? '-> ' : ''}${head}  (est. rows=${node['Plan Rows']}${actual})`);
  for (const key of CONDITION_KEYS) {
    const v = node[key];
    if (v === undefined) continue;
    // Arrays of ids bound by the cleanup's batches would fill pages: say how many there were.
    const text = (Array.isArray(v) ? v.join(', ') : String(v)).replace(
      /'\{([^}]{100,})\}'/g,
      (_m, items: string) => `'{… ${items.split(',').length} values}'`,
    );
    out.push(`${pad}     ${key}: ${text}`);
  }
  for (const child of node.Plans ?? []) renderPlan(child, depth + 1, out);
  return out;
}

function walk(node: PlanNode, fn: (n: PlanNode) => void): void {
  fn(node);
  for (const child of node.Plans ?? []) walk(child, fn);
}

function parseNotice(n: DriverNotice): Statement | null {
  const message = String(n.message ?? '');
  const at = message.indexOf('plan:\n');
  if (at < 0) return null;
  const parsed = JSON.parse(message.slice(at + 'plan:\n'.length)) as {
    'Query Text': string;
    Plan: PlanNode;
  };
  return { text: parsed['Query Text'].trim(), plan: parsed.Plan };
}

/** Plans of every statement a case ran, in order, each distinct text once. */
async function capture(
  pool: DatabasePool,
  sink: DriverNotice[],
  fixture: Fixture,
  c: Case,
  noSeqScan: boolean,
): Promise<Statement[]> {
  sink.length = 0;
  const rollback = new Error('rollback');
  try {
    await pool.transaction(async (tx) => {
      if (noSeqScan) await tx.query(sql.typeAlias('void')`SET LOCAL enable_seqscan = off`);
      sink.length = 0;
      await c.run(tx, fixture);
      // A SELECT's plan is reported when its portal closes, after its rows were sent: one more
      // statement makes sure it has arrived.
      await tx.query(sql.typeAlias('void')`SELECT 1`);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  const seen = new Set<string>();
  const out: Statement[] = [];
  for (const n of sink) {
    const s = parseNotice(n);
    if (!s || seen.has(s.text)) continue;
    let touchesTable = false;
    walk(s.plan, (node) => {
      if (node['Relation Name']) touchesTable = true;
    });
    if (!touchesTable) continue;
    seen.add(s.text);
    out.push(s);
  }
  return out;
}

async function fixtureOf(client: pg.Client): Promise<Fixture> {
  const one = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => {
    const row = (await client.query<R>(text, values)).rows[0];
    if (!row) throw new Error(`the database has no data for: ${text}`);
    return row;
  };
  const users = Number(
    (
      await one<{ n: string }>(
        `SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'users'`,
      )
    ).n,
  );
  const user = await one<{ id: string; email_normalized: string }>(
    `SELECT id, email_normalized FROM users
     WHERE email_normalized = $1 OR email_normalized LIKE 'scale-%'
     ORDER BY email_normalized = $1 DESC LIMIT 1`,
    [scaleEmail(Math.max(1, Math.floor(users / 2)))],
  );
  const session = await one<{ id: string }>(
    `SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL
     ORDER BY created_at DESC LIMIT 1`,
    [user.id],
  );
  const token = await one<{ id: string; token_hash: Buffer }>(
    'SELECT id, token_hash FROM refresh_tokens WHERE session_id = $1 LIMIT 1',
    [session.id],
  );
  const deep = await one<{ created_at: string; id: string }>(
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_at, id
     FROM users WHERE status <> 'deleted' ORDER BY created_at, id OFFSET $1 LIMIT 1`,
    [Math.floor(users * 0.9)],
  );
  const audit = await one<{ id: string }>('SELECT (max(id) / 2)::bigint AS id FROM audit_events');
  const key = (
    await client.query<{ id: string; secret_hash: Buffer }>(
      'SELECT api_key_id AS id, secret_hash FROM api_key_secrets LIMIT 1',
    )
  ).rows[0];
  return {
    userId: user.id,
    email: user.email_normalized,
    sessionId: session.id,
    refreshTokenId: Number(token.id),
    refreshTokenHash: token.token_hash,
    deepUserCursor: { createdAt: deep.created_at, id: deep.id },
    midAuditId: Number(audit.id),
    // No key in the database: the lookup of an unknown one runs the same statement.
    apiKeySecretHash: key?.secret_hash ?? createHash('sha256').update(randomBytes(32)).digest(),
    apiKeyId: key?.id ?? randomUUID(),
  };
}

function indexesOf(plan: PlanNode): string[] {
  const names = new Set<string>();
  walk(plan, (n) => {
    if (n['Index Name']) names.add(n['Index Name']);
  });
  return [...names];
}

function seqScansOf(plan: PlanNode): string[] {
  const names = new Set<string>();
  walk(plan, (n) => {
    if (n['Node Type'] === 'Seq Scan' && n['Relation Name']) names.add(n['Relation Name']);
  });
  return [...names];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      users: { type: 'string', default: '100000' },
      out: { type: 'string', default: new URL('../docs/queries.md', import.meta.url).pathname },
    },
    strict: true,
  });
  const log = (m: string) => process.stderr.write(`[explain] ${m}\n`);
  let url = values['database-url'];
  let drop: (() => Promise<void>) | undefined;
  if (url === undefined) {
    const users = Number(values.users);
    if (!Number.isInteger(users) || users < 1000) throw new Error('--users must be >= 1000');
    const db = await createBenchDatabase();
    drop = () => db.drop();
    url = db.url;
    log(`scratch database ${db.name}: migrating, seeding ${users} scale users`);
    await migrate(url);
    const passwordHash = await argon2.hash(BENCH_PASSWORD, { type: argon2.argon2id });
    await seedScaleUsers(db.pool, {
      passwordHash,
      sessionIdleSec: 3600,
      sessionAbsoluteSec: 86_400,
      from: 1,
      to: users,
    });
    await db.pool.end();
  }
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let fixture: Fixture;
    let sizes: Map<string, number>;
    let server: string;
    try {
      fixture = await fixtureOf(client);
      const { rows } = await client.query<{ relname: string; n: string }>(
        `SELECT relname, reltuples::bigint AS n FROM pg_class
         WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`,
      );
      sizes = new Map(rows.map((r) => [r.relname, Math.max(0, Number(r.n))]));
      server = String((await client.query('SHOW server_version')).rows[0]?.server_version);
    } finally {
      await client.end();
    }
    const explainUrl = new URL(url);
    explainUrl.searchParams.set(
      'options',
      [
        'session_preload_libraries=auto_explain',
        'auto_explain.log_min_duration=0',
        'auto_explain.log_nested_statements=on',
        'auto_explain.log_analyze=on',
        'auto_explain.log_timing=off',
        'auto_explain.log_format=json',
        'auto_explain.log_level=notice',
        'client_min_messages=notice',
      ]
        .map((o) => `-c ${o}`)
        .join(' '),
    );
    const sink: DriverNotice[] = [];
    const collect: Interceptor = {
      name: 'explain-capture',
      afterQueryExecution(_ctx, _query, result) {
        sink.push(...result.notices);
        return null;
      },
    };
    const pool = await createDatabase({
      url: explainUrl.toString(),
      poolMax: 1,
      statementTimeoutMs: 600_000,
      connectTimeoutMs: 5000,
      extraInterceptors: [collect],
    });
    const sections: string[] = [];
    const problems: string[] = [];
    try {
      for (const c of CASES) {
        log(`${c.rpc}: ${c.source}`);
        const statements = await capture(pool, sink, fixture, c, false);
        if (statements.length === 0) problems.push(`${c.rpc} (${c.source}): no plan captured`);
        let fallback: Statement[] | null = null;
        const parts: string[] = [`### ${c.rpc} — \`${c.source}\``, ''];
        for (const [i, s] of statements.entries()) {
          const seq = seqScansOf(s.plan);
          const large = seq.filter((t) => (sizes.get(t) ?? 0) >= LARGE_TABLE_ROWS);
          const single = seq.filter((t) => SINGLE_ROW_TABLES.has(t));
          const small = seq.filter((t) => !large.includes(t) && !single.includes(t));
          let verdict =
            seq.length === 0
              ? `indexes: ${indexesOf(s.plan).join(', ') || '(none: no table scan)'}`
              : `indexes: ${indexesOf(s.plan).join(', ') || 'none'}; sequential scan on ${seq
                  .map((t) => `${t} (~${sizes.get(t) ?? 0} rows)`)
                  .join(', ')}`;
          if (single.length > 0) {
            verdict += ` (${single.map((t) => `${t}: ${SINGLE_ROW_TABLES.get(t)}`).join('; ')})`;
          }
          if (large.length > 0) {
            verdict += ' — **SEQUENTIAL SCAN OF A LARGE TABLE**';
            problems.push(`${c.rpc} (${c.source}): sequential scan of ${large.join(', ')}`);
          } else if (small.length > 0) {
            fallback ??= await capture(pool, sink, fixture, c, true);
            const same = fallback.find((f) => f.text === s.text);
            const still = same ? seqScansOf(same.plan).filter((t) => small.includes(t)) : small;
            if (still.length > 0) {
              verdict += ` — **no index can serve it** (still a sequential scan with enable_seqscan off)`;
              problems.push(`${c.rpc} (${c.source}): no index for ${still.join(', ')}`);
            } else {
              verdict += ` (small here, so the planner reads it whole; with enable_seqscan off it uses ${
                same ? indexesOf(same.plan).join(', ') : '?'
              })`;
            }
          }
          parts.push(
            `${statements.length > 1 ? `${i + 1}. ` : ''}${verdict}`,
            '',
            '```sql',
            s.text.replace(/^\s*\n/gm, '').replace(/\s+$/gm, ''),
            '```',
            '',
            '```',
            ...renderPlan(s.plan),
            '```',
            '',
          );
        }
        sections.push(parts.join('\n'));
      }
    } finally {
      await pool.end();
    }
    const rowsOf = (t: string) => (sizes.get(t) ?? 0).toLocaleString('en-US');
    const doc = [
      '# Hot queries and their plans',
      '',
      '<!-- Generated by `node bench/explain.ts`; do not edit by hand. -->',
      '',
      'Every SQL statement the hot RPCs run, as PostgreSQL planned and executed it, with the index',
      'it uses. The SQL is not copied: `bench/explain.ts` calls the repository functions of',
      '`src/storage` named in each heading (each case in a transaction that is rolled back) on a',
      'connection where `auto_explain` reports every executed statement, nested ones (the cleanup',
      'function, triggers) included; `est. rows` is the planner estimate, `actual rows` what ran.',
      'Statements that touch no table (e.g. `pg_notify`) are left out. Regenerate after changing a',
      'query or an index: `node bench/explain.ts --database-url <a seeded database>` (or without',
      'it, on a scratch database seeded with 100,000 scale users).',
      '',
      `Data: ${rowsOf('users')} users, ${rowsOf('sessions')} sessions, ${rowsOf('refresh_tokens')} refresh tokens, ${rowsOf('audit_events')} audit events (PostgreSQL ${server}, row counts from pg_class after ANALYZE).`,
      '',
      problems.length === 0
        ? 'No hot statement reads a large table sequentially.'
        : `**Problems:**\n\n${problems.map((p) => `- ${p}`).join('\n')}`,
      '',
      ...sections,
    ].join('\n');
    writeFileSync(values.out, `${doc.trimEnd()}\n`);
    log(`wrote ${values.out}${problems.length > 0 ? `; ${problems.length} problems` : ''}`);
    for (const p of problems) log(`problem: ${p}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    await drop?.();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`explain: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 2;
}
