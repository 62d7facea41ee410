import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ListUsersRequest } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import { UserStatus } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser, uniqueEmail } from './helpers/users.ts';

const USERS = 3000;

interface Seeded {
  id: string;
  i: number;
  status: string;
  roles: string[];
}

describe('ListUsers keyset pagination', () => {
  let gh: Gatehouse;
  let token: string;
  let seeded: Seeded[];
  before(async () => {
    gh = await startGatehouse();
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    token = admin.tokens.accessToken;
    // One statement for 3000 users; three share each created_at, so the id tie-break matters.
    seeded = await gh.db.query<Seeded>(
      `INSERT INTO users (email, email_normalized, username, username_normalized, display_name,
                          roles, status, created_at)
       SELECT 'Page' || i || '@List.test', 'page' || i || '@list.test', 'member_' || i,
              'member_' || i, CASE WHEN i % 3 = 0 THEN 'Zed ' ELSE 'Amy ' END || i,
              CASE WHEN i % 10 = 0 THEN '{support}'::text[] ELSE '{}'::text[] END,
              CASE WHEN i % 7 = 0 THEN 'disabled' ELSE 'active' END,
              timestamptz '2024-01-01 00:00:00Z' + (i / 3) * interval '1 microsecond'
       FROM generate_series(1, ${USERS}) AS i
       RETURNING id, (regexp_match(email_normalized, '\\d+'))[1]::int AS i, status, roles`,
    );
    assert.equal(seeded.length, USERS);
  });
  after(async () => {
    await gh.stop();
  });

  const list = (req: Partial<ListUsersRequest>, client = gh) =>
    call(
      client.admin,
      'listUsers',
      { pageSize: 0, pageToken: '', query: '', role: '', status: 0, ...req },
      { token },
    );

  /** Walks every page of one filter while other rows are being inserted; returns the ids. */
  async function walk(req: Partial<ListUsersRequest>, pageSize: number): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await list({ ...req, pageSize, pageToken });
      assert.ok(page.users.length <= pageSize);
      ids.push(...page.users.map((u) => u.user?.id ?? ''));
      pageToken = page.nextPageToken;
      pages += 1;
      assert.ok(pages < 1000, 'terminates');
    } while (pageToken !== '');
    return ids;
  }

  it('returns every matching row exactly once per filter while rows are inserted', async () => {
    let inserting = true;
    let inserted = 0;
    const writer = (async () => {
      while (inserting) {
        // New rows at the end, and imported-style rows with creation times inside the range.
        await gh.db.query(
          `INSERT INTO users (email, email_normalized, display_name, created_at)
           SELECT e, lower(e), 'Zed concurrent', t FROM (
             SELECT 'late' || gen_random_uuid() || '@list.test' AS e, now() AS t
             UNION ALL
             SELECT 'mid' || gen_random_uuid() || '@list.test',
                    timestamptz '2024-01-01 00:00:00Z' + (random() * 1000)::int * interval '1 microsecond'
             FROM generate_series(1, 3)) AS rows`,
        );
        await call(
          gh.admin,
          'createUser',
          { email: uniqueEmail('concurrent'), roles: ['support'], emailVerified: false },
          { token },
        );
        inserted += 5;
      }
    })();

    const cases: {
      name: string;
      req: Partial<ListUsersRequest>;
      match: (s: Seeded) => boolean;
    }[] = [
      { name: 'no filter', req: {}, match: () => true },
      { name: 'display-name prefix, any case', req: { query: 'zED' }, match: (s) => s.i % 3 === 0 },
      { name: 'role', req: { role: 'support' }, match: (s) => s.roles.includes('support') },
      {
        name: 'status disabled',
        req: { status: UserStatus.USER_STATUS_DISABLED },
        match: (s) => s.status === 'disabled',
      },
      {
        name: 'email prefix + status active',
        req: { query: ' PAGE1', status: UserStatus.USER_STATUS_ACTIVE },
        match: (s) => String(s.i).startsWith('1') && s.status === 'active',
      },
      {
        name: 'username prefix + role',
        req: { query: 'member_2', role: 'support' },
        match: (s) => String(s.i).startsWith('2') && s.roles.includes('support'),
      },
    ];
    try {
      for (const c of cases) {
        const ids = await walk(c.req, 97);
        assert.equal(new Set(ids).size, ids.length, `${c.name}: no duplicates`);
        const got = new Set(ids);
        const expected = seeded.filter(c.match);
        assert.ok(expected.length > 0);
        const missing = expected.filter((s) => !got.has(s.id));
        assert.deepEqual(missing, [], `${c.name}: no gaps`);
        const seededIds = new Set(seeded.map((s) => s.id));
        const extra = seeded.filter((s) => !c.match(s) && got.has(s.id));
        assert.deepEqual(extra, [], `${c.name}: nothing that does not match`);
        assert.ok([...got].every((id) => id !== ''));
        assert.ok(ids.filter((id) => seededIds.has(id)).length === expected.length);
      }
    } finally {
      inserting = false;
      await writer;
    }
    assert.ok(inserted > 0, 'rows were inserted during the walk');
  });

  it('matches LIKE wildcards literally', async () => {
    assert.equal((await list({ query: 'page%' })).users.length, 0);
    assert.equal((await list({ query: 'member\\' })).users.length, 0);
    assert.equal((await list({ query: 'm_mber' })).users.length, 0);
  });

  it('caps and defaults the page size and refuses a negative one', async () => {
    assert.equal((await list({})).users.length, 50);
    assert.equal((await list({ pageSize: 10_000 })).users.length, 500);
    await expectRpcError(list({ pageSize: -1 }), status.INVALID_ARGUMENT, 'VALIDATION_FAILED');
    await expectRpcError(
      list({ role: 'Not A Role' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      list({ status: 42 as never }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('refuses tampered, foreign and re-filtered page tokens', async () => {
    const first = await list({ pageSize: 5, query: 'zed' });
    const good = first.nextPageToken;
    assert.match(good, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const [v, payload, mac] = good.split('.') as [string, string, string];

    const cursor = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [string, string];
    const forged = Buffer.from(JSON.stringify(['1970-01-01T00:00:00.000000', cursor[1]])).toString(
      'base64url',
    );
    const flip = (s: string, at: number) =>
      s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const bad = [
      `${v}.${forged}.${mac}`,
      `${v}.${payload}.${flip(mac, 5)}`,
      `${v}.${payload}.${flip(mac, mac.length - 1)}`,
      `v2.${payload}.${mac}`,
      'garbage',
      `${good}.extra`,
      'x'.repeat(5000),
    ];
    for (const pageToken of bad) {
      await expectRpcError(
        list({ pageSize: 5, query: 'zed', pageToken }),
        status.INVALID_ARGUMENT,
        'INVALID_PAGE_TOKEN',
      );
    }
    const others: Partial<ListUsersRequest>[] = [
      { query: 'amy' },
      { query: 'zed', role: 'support' },
      { query: 'zed', status: UserStatus.USER_STATUS_DISABLED },
    ];
    for (const other of others) {
      await expectRpcError(
        list({ pageSize: 5, pageToken: good, ...other }),
        status.INVALID_ARGUMENT,
        'INVALID_PAGE_TOKEN',
      );
    }
    const audit = await call(
      gh.admin,
      'listAuditEvents',
      { pageSize: 1, pageToken: '', userId: '', action: '' },
      { token },
    );
    await expectRpcError(
      list({ pageToken: audit.nextPageToken }),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    // The same filters in another spelling (case, spaces) are the same filters.
    const next = await list({ pageSize: 5, query: '  ZED ', pageToken: good });
    assert.equal(next.users.length, 5);
  });

  it('accepts a page token on every instance of the same database', async () => {
    const other = await startGatehouse({}, gh.db);
    try {
      const first = await list({ pageSize: 3, role: 'support' });
      const second = await list(
        { pageSize: 3, role: 'support', pageToken: first.nextPageToken },
        other,
      );
      assert.equal(second.users.length, 3);
      assert.notEqual(second.users[0]?.user?.id, first.users[0]?.user?.id);
      const keyed = await startGatehouse({ PAGE_TOKEN_SECRET: 'k'.repeat(40) }, gh.db);
      try {
        await expectRpcError(
          list({ pageSize: 3, role: 'support', pageToken: first.nextPageToken }, keyed),
          status.INVALID_ARGUMENT,
          'INVALID_PAGE_TOKEN',
        );
      } finally {
        await keyed.stop();
      }
    } finally {
      await other.stop();
    }
  });
});
