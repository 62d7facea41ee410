import { measure } from '../lib/measure.ts';
import {
  headline,
  invalidReason,
  type Scenario,
  type ScenarioResult,
  type Target,
  verdictOf,
} from './Scenario.ts';

const target: Target = { compare: 'p50 latency', atMost: 1.2 };

/**
 * ListUsers deep in the list vs at its start. With --list-users seeded (100k), the page token of
 * page --list-page (1000) is obtained by walking next_page_token from page 1; then every worker
 * alternates page 1 and page N requests in the same window, so both series see the same load
 * and the same noise. The baseline is page 1's latency; keyset pagination should make page N
 * cost the same.
 */
export const listUsers: Scenario = {
  name: 'list-users',
  title: 'ListUsers page N vs page 1',
  baselineTitle: 'ListUsers page 1 (p50 latency)',
  target,
  async run(ctx): Promise<ScenarioResult> {
    const { listUsers: users, listPage, listPageSize } = ctx.options;
    const title = `ListUsers page ${listPage} vs page 1 (${users.toLocaleString('en-US')} users)`;
    const base = {
      name: 'list-users' as const,
      title,
      baselineTitle: 'ListUsers page 1 (p50 latency)',
      target,
    };
    ctx.log(`list-users: seeding ${users} users`);
    await ctx.seed.ensureUsers(users);
    ctx.log(`list-users: walking to page ${listPage}`);
    const pageToken = await ctx.seed.listUsersPageToken(listPage, listPageSize);
    if (pageToken === null) {
      return {
        ...base,
        verdict: 'n/a',
        note: 'n/a (UNIMPLEMENTED): ListUsers is not implemented by this server yet',
        headline: null,
        baselineHeadline: null,
        ratio: null,
        measured: null,
        baseline: null,
      };
    }
    const pageLabel = `page ${listPage}`;
    ctx.log(`list-users: ${title}`);
    const m = await measure(
      ctx,
      title,
      {
        kind: 'list-users',
        target: ctx.gatehouse.target,
        adminToken: await ctx.seed.adminToken(),
        pageSize: listPageSize,
        pages: [
          { label: 'page 1', pageToken: '' },
          { label: pageLabel, pageToken },
        ],
      },
      ctx.gatehouse,
    );
    const measured = headline(m, pageLabel);
    const first = headline(m, 'page 1');
    const invalid = invalidReason(m);
    if (invalid) {
      return {
        ...base,
        verdict: 'ERROR',
        note: invalid,
        headline: measured,
        baselineHeadline: first,
        ratio: null,
        measured: m,
        baseline: null,
      };
    }
    const ratio = measured.p50 / first.p50;
    return {
      ...base,
      verdict: verdictOf(target, ratio),
      headline: measured,
      baselineHeadline: first,
      ratio,
      measured: m,
      baseline: null,
    };
  },
};
