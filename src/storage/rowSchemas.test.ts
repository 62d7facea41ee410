import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const SRC = join(import.meta.dirname, '..');
/** `sql.type(` followed by anything but a bare identifier and `)`. */
const INLINE_SCHEMA = /sql\.type\(\s*(?![A-Za-z_$][\w$]*\s*\))/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'gen' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('row schemas', () => {
  // zod 4 compiles an object schema's parser the first time the schema parses (a `new Function`),
  // so a schema written inside `sql.type(...)` is built and compiled again on every query: about
  // 30 us a call on the development machine, where parsing a row with a schema built once costs
  // 0.1 us. Several of them ran on every Login.
  it('are built once, at module level: sql.type() takes a named schema', () => {
    const inline: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(INLINE_SCHEMA)) {
        const before = text.slice(0, match.index);
        const lineStart = before.slice(before.lastIndexOf('\n') + 1).trimStart();
        if (lineStart.startsWith('*') || lineStart.startsWith('//')) continue; // a comment
        const line = before.split('\n').length;
        inline.push(`${relative(SRC, file)}:${line}`);
      }
    }
    assert.deepEqual(inline, [], `schemas built per call at:\n${inline.join('\n')}`);
  });

  it('the check finds a schema written inline', () => {
    const text = 'await db.one(sql.type(z.object({ id: z.string() }))`SELECT 1`)';
    assert.equal([...text.matchAll(INLINE_SCHEMA)].length, 1);
    assert.equal(
      [...'sql.type(idRow)`SELECT 1`'.matchAll(/sql\.type\(\s*(?![A-Za-z_$][\w$]*\s*\))/g)].length,
      0,
    );
  });
});
