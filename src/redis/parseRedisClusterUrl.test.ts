import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';
import { isRedisClusterUrl, parseRedisClusterUrl } from './parseRedisClusterUrl.ts';

const base = { DATABASE_URL: 'postgres://localhost/gatehouse', NODE_ENV: 'test' };

/** The REDIS_URL problem line loadConfig reports for `url`. */
function redisUrlProblem(url: string): string {
  try {
    loadConfig({ ...base, REDIS_URL: url });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    const line = error.problems.find((p) => p.includes('REDIS_URL'));
    assert.ok(line, error.problems.join('\n'));
    return line;
  }
  assert.fail(`REDIS_URL=${url} was accepted`);
}

describe('parseRedisClusterUrl', () => {
  it('reads the seed nodes, credentials and TLS of redis+cluster:// and rediss+cluster://', () => {
    assert.deepEqual(parseRedisClusterUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001'), {
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    assert.deepEqual(
      parseRedisClusterUrl('rediss+cluster://gate:p%40ss:w@redis-a.internal,[::1]:7002/'),
      {
        nodes: [
          { host: 'redis-a.internal', port: 6379 },
          { host: '::1', port: 7002 },
        ],
        username: 'gate',
        password: 'p@ss:w',
        tls: true,
      },
    );
    assert.deepEqual(parseRedisClusterUrl('REDIS+CLUSTER://:secret@h:1').password, 'secret');
    assert.equal(parseRedisClusterUrl('redis+cluster://:secret@h:1').username, undefined);
  });

  it('tells a cluster URL from a single-node one', () => {
    assert.equal(isRedisClusterUrl('redis+cluster://h:1'), true);
    assert.equal(isRedisClusterUrl('rediss+cluster://h:1'), true);
    assert.equal(isRedisClusterUrl('redis://h:1'), false);
    assert.equal(isRedisClusterUrl('h:1'), false);
  });

  it('refuses what it cannot connect to, saying what is wrong', () => {
    assert.throws(() => parseRedisClusterUrl('redis+cluster://'), /no nodes/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://h1:7000,'), /"" is not host:port/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://h1:7000/0'), /no database number/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://h1:7000?tls=1'), /no database/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://h1:70000'), /out of range/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://h1:port'), /not host:port/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://h_1:7000'), /not host:port/);
    assert.throws(() => parseRedisClusterUrl('redis+cluster://u:%zz@h:1'), /percent-encoded/);
  });
});

describe('REDIS_URL', () => {
  it('accepts a cluster and keeps accepting single-node forms', () => {
    for (const url of [
      'redis+cluster://127.0.0.1:7000,127.0.0.1:7001',
      'rediss+cluster://user:pw@cache.internal:6380',
      'redis://127.0.0.1:6379/2',
      'rediss://cache.internal:6380',
      '127.0.0.1:6379',
      '/run/redis.sock',
    ]) {
      assert.equal(loadConfig({ ...base, REDIS_URL: url }).redis.url, url);
    }
  });

  it('names the variable and the expected cluster form, with the password masked', () => {
    const line = redisUrlProblem('redis+cluster://gate:hunter2@h1:7000,h2:7001/1');
    assert.match(line, /REDIS_URL/);
    assert.match(line, /no database number/);
    assert.match(line, /redis\+cluster:\/\/\[user:password@\]host1:port1,host2:port2/);
    assert.doesNotMatch(line, /hunter2/);
    assert.match(redisUrlProblem('redis+cluster://h1:7000;h2:7001'), /not host:port/);
    assert.match(redisUrlProblem('http://h1:7000'), /redis\+cluster:\/\//);
  });
});
