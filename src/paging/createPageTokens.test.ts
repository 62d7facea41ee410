import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors/AppError.ts';
import { createPageTokens } from './createPageTokens.ts';

const tokens = createPageTokens(async () => Buffer.alloc(32, 7));
const isInvalid = (e: unknown) => e instanceof AppError && e.reason === 'INVALID_PAGE_TOKEN';

describe('createPageTokens', () => {
  it('round-trips a cursor for the same kind and filter', async () => {
    const t = await tokens.issue('users', ['active', null], ['2024-01-01T00:00:00.000001', 'x']);
    assert.deepEqual(await tokens.read('users', ['active', null], t), [
      '2024-01-01T00:00:00.000001',
      'x',
    ]);
  });

  it('refuses another kind, other filters, another key and any edited character', async () => {
    const t = await tokens.issue('users', ['active'], [1]);
    await assert.rejects(tokens.read('audit_events', ['active'], t), isInvalid);
    await assert.rejects(tokens.read('users', ['disabled'], t), isInvalid);
    const other = createPageTokens(async () => Buffer.alloc(32, 8));
    await assert.rejects(other.read('users', ['active'], t), isInvalid);
    for (let i = 0; i < t.length; i++) {
      const c = t[i] === 'A' ? 'B' : 'A';
      const edited = t.slice(0, i) + c + t.slice(i + 1);
      await assert.rejects(tokens.read('users', ['active'], edited), isInvalid, `position ${i}`);
    }
    for (const bad of ['', 'v1', 'v1..', `${t}.x`, 'x'.repeat(2000)]) {
      await assert.rejects(tokens.read('users', ['active'], bad), isInvalid);
    }
  });
});
