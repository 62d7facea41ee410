import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  auditActionsOf,
  SESSION_EVENT_TYPES,
  SUBSCRIBABLE_EVENT_TYPES,
  webhookEventTypeOf,
} from './Webhook.ts';

/** Every audit action name some source file passes to recordAudit or names in a policy. */
function recordedActions(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|proto)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/recordAudit\([^,]+,\s*'([a-z_]+)'/g)) names.add(m[1] ?? '');
        for (const m of text.matchAll(/action: "AUDIT_ACTION_([A-Z_]+)"/g)) {
          names.add((m[1] ?? '').toLowerCase());
        }
      }
    }
  };
  walk(new URL('../', import.meta.url).pathname.replace(/\/$/, ''));
  walk(new URL('../../proto', import.meta.url).pathname);
  return names;
}

describe('webhook event types', () => {
  const recorded = recordedActions();

  it('each subscribable type is produced by an audit action some code records', () => {
    for (const type of SUBSCRIBABLE_EVENT_TYPES.filter((t) => !SESSION_EVENT_TYPES.includes(t))) {
      const actions = auditActionsOf(type);
      assert.ok(actions.length > 0, `${type} has an audit action`);
      assert.ok(
        actions.some((a) => recorded.has(a)),
        `${type}: one of ${actions.join(', ')} is recorded somewhere`,
      );
    }
  });

  it('no audit action produces a session event: sessions.ts queues one per session', () => {
    for (const type of SESSION_EVENT_TYPES) assert.deepEqual(auditActionsOf(type), [], type);
    assert.equal(webhookEventTypeOf('login', 'success'), null);
    assert.equal(webhookEventTypeOf('logout', 'success'), null);
    assert.equal(webhookEventTypeOf('user_sessions_revoke', 'success'), null);
  });

  it('only successes are events, but for failed sign-ins', () => {
    assert.equal(webhookEventTypeOf('user_create', 'success'), 'user.created');
    assert.equal(webhookEventTypeOf('user_create', 'failure'), null);
    assert.equal(webhookEventTypeOf('user_create', 'denied'), null);
    assert.equal(webhookEventTypeOf('login', 'failure'), 'login.failed');
    assert.equal(webhookEventTypeOf('login', 'denied'), null);
    assert.equal(webhookEventTypeOf('user_get', 'success'), null);
  });
});
