import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../log.ts';
import { traceLogFields } from './traceLogFields.ts';

describe('traceLogFields as the logger mixin', () => {
  it('adds nothing outside a span, and no line inherits another line’s fields', () => {
    const out = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    out.on('data', (chunk: Buffer) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    });
    const log = createLogger('info', 'json', out, traceLogFields);
    log.info({ userId: 'u-1', grpcPort: 1 }, 'first');
    log.info('second');
    log.child({ requestId: 'r-1' }).info('third');
    assert.equal(lines.length, 3);
    const [first, second, third] = lines;
    assert.equal(first?.userId, 'u-1');
    assert.equal(
      second?.userId,
      undefined,
      'the second line carries none of the first one’s fields',
    );
    assert.equal(second?.grpcPort, undefined);
    assert.equal(third?.requestId, 'r-1');
    for (const line of lines) assert.equal(line.trace_id, undefined);
  });
});
