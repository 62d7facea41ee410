import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';

function capture(format: 'json' | 'pretty'): {
  log: ReturnType<typeof createLogger>;
  text(): string;
} {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => {
    text += String(d);
  });
  return { log: createLogger('info', format, stream), text: () => text };
}

describe('log formats', () => {
  it('json (default): one JSON object per line, secrets redacted', () => {
    const { log, text } = capture('json');
    log.info({ port: 50051, password: 'hunter2' }, 'gatehouse is listening');
    const entry = JSON.parse(text().trim());
    assert.equal(entry.msg, 'gatehouse is listening');
    assert.equal(entry.password, '[redacted]');
  });

  it('redacts an API key secret, alone or inside a logged response', () => {
    const { log, text } = capture('json');
    const secret = `ghk_${'x'.repeat(49)}`;
    log.info({ secret, response: { apiKey: { id: 'k1' }, secret } }, 'key created');
    const entry = JSON.parse(text().trim());
    assert.equal(entry.secret, '[redacted]');
    assert.equal(entry.response.secret, '[redacted]');
    assert.ok(!text().includes(secret));
  });

  it('pretty: a readable line with the level and fields, secrets still redacted', () => {
    const { log, text } = capture('pretty');
    log.warn({ port: 50051, password: 'hunter2' }, 'gatehouse is listening');
    const out = text();
    assert.match(out, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN: gatehouse is listening\n/);
    assert.match(out, /port: 50051/);
    assert.match(out, /password: "\[redacted\]"/);
    assert.doesNotMatch(out, /hunter2/);
    assert.ok(!out.includes('\u001b['), 'no colour codes when not writing to a terminal');
  });

  it('LOG_FORMAT selects it, and an unknown value is refused naming the variable', () => {
    assert.equal(loadConfig({}).logFormat, 'json');
    assert.equal(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
    assert.throws(
      () => loadConfig({ LOG_FORMAT: 'fancy' }),
      (e: Error) => e instanceof ConfigError && /LOG_FORMAT="fancy"/.test(e.message),
    );
  });
});
