import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { eventually } from './helpers/eventually.ts';
import { HealthClient } from './helpers/healthClient.ts';
import { attribute, OtlpCollector, type ReceivedSpan } from './helpers/otlpCollector.ts';
import { type SpawnedGatehouse, spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { PASSWORD, uniqueEmail } from './helpers/users.ts';

const SERVER = 2; // OTLP SpanKind SPAN_KIND_SERVER

/** A W3C traceparent of a fresh sampled trace, with its trace and parent span ids. */
function newTraceparent(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

const system = (span: ReceivedSpan) =>
  attribute(span.attributes, 'db.system.name') ?? attribute(span.attributes, 'db.system');
const statement = (span: ReceivedSpan) =>
  attribute(span.attributes, 'db.query.text') ?? attribute(span.attributes, 'db.statement');

/** Everything of a span a backend would store and show, as one string to search. */
function recorded(span: ReceivedSpan): string {
  const { name, attributes, events, links, status, resource } = span;
  return JSON.stringify({ name, attributes, events, links, status, resource });
}

describe('tracing: OpenTelemetry spans exported over OTLP', () => {
  let collector: OtlpCollector;
  let db: TestDatabase;
  let gh: SpawnedGatehouse;
  let client: AuthServiceClient;

  before(async () => {
    collector = await OtlpCollector.start();
    db = await createTestDatabase();
    gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:tracing:${randomBytes(4).toString('hex')}:`,
      // info: every call writes its access line ('call'), which must carry the trace id.
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.tracesUrl,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'gatehouse-under-test',
    });
    client = new AuthServiceClient(`127.0.0.1:${gh.grpcPort}`, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    if (gh !== undefined) {
      gh.process.kill('SIGTERM');
      await gh.exited;
    }
    await db?.drop();
    await collector?.stop();
  });

  it("continues the caller's trace: the Login RPC with its PostgreSQL and Redis spans, nothing secret recorded", async () => {
    const email = uniqueEmail('traced');
    const registered = await call(client, 'register', { email, password: PASSWORD });
    // A health check first, traced by its caller too: probes are never recorded.
    const probe = newTraceparent();
    const health = new HealthClient(`127.0.0.1:${gh.grpcPort}`);
    const probeMetadata = new Metadata();
    probeMetadata.set('traceparent', probe.header);
    try {
      assert.equal(await health.check('', probeMetadata), 'SERVING');
    } finally {
      health.close();
    }
    const caller = newTraceparent();
    const { traceId, spanId: callerSpanId } = caller;
    const login = await call(
      client,
      'login',
      { identifier: email, password: PASSWORD },
      { metadata: { traceparent: caller.header } },
    );

    const isRpc = (s: ReceivedSpan) => s.name === 'grpc.gatehouse.auth.v1.AuthService/Login';
    const spans = await eventually(
      async () => collector.trace(traceId),
      (found) =>
        found.some(isRpc) &&
        found.some((s) => system(s) === 'postgresql') &&
        found.some((s) => system(s) === 'redis'),
      {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: 'the Login trace with PostgreSQL and Redis spans',
      },
    );

    // Spans are exported in the order they end: had the earlier health check been recorded,
    // it would have arrived by now.
    assert.deepEqual(collector.trace(probe.traceId), [], 'health checks are not traced');

    const rpc = spans.find(isRpc) as ReceivedSpan;
    assert.equal(rpc.kind, SERVER);
    assert.equal(rpc.parentSpanId, callerSpanId, "the server span's parent is the caller's span");
    assert.equal(attribute(rpc.attributes, 'rpc.method'), 'Login');
    assert.equal(attribute(rpc.attributes, 'rpc.service'), 'gatehouse.auth.v1.AuthService');
    assert.equal(attribute(rpc.attributes, 'rpc.grpc.status_code'), '0');
    assert.equal(attribute(rpc.resource, 'service.name'), 'gatehouse-under-test');

    // Every span of the trace hangs below the RPC (no second root inside the server).
    const ids = new Set(spans.map((s) => s.spanId));
    for (const span of spans) {
      if (span !== rpc) assert.ok(ids.has(span.parentSpanId ?? ''), `${span.name} has a parent`);
    }
    // SQL with placeholders, Redis command names alone.
    const sql = spans.filter((s) => system(s) === 'postgresql').map(statement);
    assert.ok(
      sql.some((text) => text?.includes('$1')),
      `parameterised SQL: ${JSON.stringify(sql)}`,
    );
    for (const span of spans.filter((s) => system(s) === 'redis')) {
      const text = statement(span) ?? '';
      assert.match(text, /^[a-z.]+$/i, `a Redis span records the command only, got "${text}"`);
    }

    // Nothing secret or identifying in any span exported so far (Register's trace included).
    const secrets = {
      email,
      password: PASSWORD,
      userId: registered.user?.id,
      registerAccessToken: registered.tokens?.accessToken,
      registerRefreshToken: registered.tokens?.refreshToken,
      accessToken: login.tokens?.accessToken,
      refreshToken: login.tokens?.refreshToken,
    };
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(value !== undefined && value.length > 0, `${what} is known to the test`);
    }
    assert.ok(collector.spans.length > spans.length, "Register's spans were exported too");
    for (const span of collector.spans) {
      const text = recorded(span).toLowerCase();
      for (const [what, value] of Object.entries(secrets)) {
        assert.ok(!text.includes(String(value).toLowerCase()), `${span.name} records the ${what}`);
      }
    }

    // The call's access-log line carries the ids of its trace.
    const line = await eventually(
      async () =>
        gh.logs.find(
          (l) => l.msg === 'call' && String(l.method).endsWith('/Login') && l.trace_id === traceId,
        ),
      (found) => found !== undefined,
      { timeoutMs: 30_000, what: "the Login's access line with its trace id" },
    );
    assert.ok(ids.has(String(line?.span_id)), 'its span_id is a span of the trace');
    const listening = gh.logs.find((l) => l.msg === 'gatehouse is listening');
    assert.equal(listening?.trace_id, undefined, 'lines outside a call carry no trace id');
  });

  it('traces a JSON Login on the Connect port the same way: its span, PostgreSQL and Redis below it', async () => {
    const email = uniqueEmail('traced-json');
    const post = (method: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${gh.connectPort}/gatehouse.auth.v1.AuthService/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    assert.equal((await post('Register', { email, password: PASSWORD })).status, 200);
    const caller = newTraceparent();
    const login = await post(
      'Login',
      { identifier: email, password: PASSWORD },
      { traceparent: caller.header },
    );
    assert.equal(login.status, 200);
    const answer = (await login.json()) as {
      tokens: { accessToken: string; refreshToken: string };
    };

    const isRpc = (s: ReceivedSpan) => s.name === 'connect_rpc.gatehouse.auth.v1.AuthService/Login';
    const spans = await eventually(
      async () => collector.trace(caller.traceId),
      (found) =>
        found.some(isRpc) &&
        found.some((s) => system(s) === 'postgresql') &&
        found.some((s) => system(s) === 'redis'),
      { timeoutMs: 60_000, intervalMs: 50, what: 'the JSON Login trace' },
    );
    const rpc = spans.find(isRpc) as ReceivedSpan;
    assert.equal(rpc.kind, SERVER);
    assert.equal(rpc.parentSpanId, caller.spanId);
    assert.equal(attribute(rpc.attributes, 'rpc.system'), 'connect_rpc');
    assert.equal(attribute(rpc.attributes, 'rpc.method'), 'Login');
    assert.equal(attribute(rpc.attributes, 'rpc.grpc.status_code'), '0');
    const ids = new Set(spans.map((s) => s.spanId));
    for (const span of spans) {
      if (span !== rpc) assert.ok(ids.has(span.parentSpanId ?? ''), `${span.name} has a parent`);
    }
    for (const span of collector.spans) {
      const text = recorded(span).toLowerCase();
      for (const value of [
        email,
        PASSWORD,
        answer.tokens.accessToken,
        answer.tokens.refreshToken,
      ]) {
        assert.ok(!text.includes(value.toLowerCase()), `${span.name} records a secret`);
      }
    }
    const line = await eventually(
      async () =>
        gh.logs.find(
          (l) => l.msg === 'call' && l.protocol === 'connect' && l.trace_id === caller.traceId,
        ),
      (found) => found !== undefined,
      { timeoutMs: 30_000, what: "the JSON Login's access line with its trace id" },
    );
    assert.equal(line?.span_id, rpc.spanId);
  });
});

describe('tracing: buffered spans at shutdown', () => {
  it('exports what is still buffered when SIGTERM stops the server', async () => {
    const collector = await OtlpCollector.start();
    const db = await createTestDatabase();
    try {
      const gh = await spawnGatehouse({
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: `ghtest:tracing:${randomBytes(4).toString('hex')}:`,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.tracesUrl,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        // Nothing is exported on a schedule during the test: only shutdown can send the span.
        OTEL_BSP_SCHEDULE_DELAY: '3600000',
      });
      const client = new AuthServiceClient(
        `127.0.0.1:${gh.grpcPort}`,
        credentials.createInsecure(),
      );
      const caller = newTraceparent();
      try {
        await call(
          client,
          'register',
          { email: uniqueEmail('shutdown'), password: PASSWORD },
          { metadata: { traceparent: caller.header } },
        );
      } finally {
        client.close();
      }
      gh.process.kill('SIGTERM');
      assert.equal(await gh.exited, 0);
      const names = collector.trace(caller.traceId).map((s) => s.name);
      assert.ok(
        names.includes('grpc.gatehouse.auth.v1.AuthService/Register'),
        `the Register span was exported before exit (got ${JSON.stringify(names)})`,
      );
    } finally {
      await db.drop();
      await collector.stop();
    }
  });
});
