import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { createCleanupMetrics } from '../src/cleanup/cleanupMetrics.ts';
import { createCleanupRunner } from '../src/cleanup/createCleanupRunner.ts';
import {
  WebhookAdminServiceClient,
  WebhookAdminServiceService,
  type WebhookDelivery,
  WebhookDeliveryStatus,
} from '../src/gen/gatehouse/admin/v1/webhook_admin_service.ts';
import { User } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { createDatabase } from '../src/storage/createDatabase.ts';
import { eventually } from './helpers/eventually.ts';
import { orgFixtures, uniqueName } from './helpers/organizations.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { SmtpReceiver, tokenFromLink } from './helpers/smtpReceiver.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { atStableStep, settle, totpCode } from './helpers/totp.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

type Methods = typeof WebhookAdminServiceService;
type RequestOf<M> = M extends { requestSerialize: (value: infer R) => Buffer } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;

/** A typed unary call of WebhookAdminService (the shared helper knows the other services). */
function hook<K extends keyof Methods & string>(
  client: WebhookAdminServiceClient,
  method: K,
  request: Partial<RequestOf<Methods[K]>>,
  options: { token?: string; metadata?: Record<string, string> } = {},
): Promise<ResponseOf<Methods[K]>> {
  const definition = WebhookAdminServiceService[method];
  // The message's defaults, then the fields given (nested messages are given whole).
  const full = {
    ...(definition.requestDeserialize(Buffer.alloc(0)) as object),
    ...request,
  } as RequestOf<Methods[K]>;
  return new Promise((resolve, reject) => {
    const md = new Metadata();
    if (options.token !== undefined) md.set('authorization', `Bearer ${options.token}`);
    for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
    const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
    if (typeof fn !== 'function') throw new Error(`no such method ${method}`);
    fn.call(client, full, md, {}, (err: ServiceError | null, res: ResponseOf<Methods[K]>) =>
      err ? reject(err) : resolve(res),
    );
  });
}

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP receiver on 127.0.0.1: /ok answers 204, /fail answers 500 until told otherwise,
 * /redirect answers 302 to /ok. It records every request.
 */
async function startReceiver(): Promise<{
  url: (path: string) => string;
  localhostUrl: (path: string) => string;
  received: Received[];
  setFailing(failing: boolean): void;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  let failing = true;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (path.startsWith('/redirect')) {
        res.writeHead(302, { location: `http://127.0.0.1:${port()}/ok` }).end();
      } else if (path.startsWith('/fail') && failing) {
        res.writeHead(500).end('receiver failing');
      } else {
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = () => (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port()}${path}`,
    localhostUrl: (path) => `http://localhost:${port()}${path}`,
    received,
    setFailing(value) {
      failing = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** A registered user given the admin role by SQL, as an operator could. */
async function adminToken(gh: Gatehouse): Promise<string> {
  const u = await registerUser(gh);
  await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
  return u.tokens.accessToken;
}

const headersOf = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

/** Verifies a received request with the standardwebhooks library, as a receiver would. */
function verify(
  secret: string,
  r: Received,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(r.body, headersOf(r)) as never;
}

describe('signed webhooks', () => {
  let gh: Gatehouse;
  let client: WebhookAdminServiceClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;

  before(async () => {
    receiver = await startReceiver();
    gh = await startGatehouse({
      // The receiver runs on 127.0.0.1 over http: this server allows both.
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '20',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_RETRY_BASE_MS: '20',
      WEBHOOK_RETRY_MAX_MS: '100',
    });
    client = new WebhookAdminServiceClient(gh.target, credentials.createInsecure());
    token = await adminToken(gh);
  });
  after(async () => {
    client.close();
    await gh.stop();
    await receiver.close();
  });

  const createEndpoint = (path: string, eventTypes: string[], enabled = true) =>
    hook(
      client,
      'createWebhookEndpoint',
      { url: receiver.url(path), eventTypes, enabled, description: `test ${path}` },
      { token },
    );

  /** Waits until the receiver got a request on `path` for which `match` holds. */
  const receivedOn = (path: string, match: (r: Received) => boolean = () => true) =>
    eventually(
      async () => receiver.received.filter((r) => r.path === path && match(r)),
      (found) => found.length > 0,
      { what: `a webhook on ${path}` },
    ).then((found) => found[0] as Received);

  const deliveriesOf = async (endpointId: string, status = 0) =>
    (
      await hook(
        client,
        'listWebhookDeliveries',
        { webhookEndpointId: endpointId, status: status as WebhookDeliveryStatus },
        { token },
      )
    ).deliveries;

  it('answers each RPC by the caller: anonymous, non-admin user, non-admin key, admin', async () => {
    const plain = await registerUser(gh);
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: `hooks-${randomUUID().slice(0, 8)}`, displayName: 'x', description: '', roles: [] },
      { token },
    );
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: sa.serviceAccount?.id ?? '', displayName: 'k', roles: [] },
      { token },
    );
    const callers = [
      {
        who: 'anonymous',
        token: undefined,
        code: 'UNAUTHENTICATED',
        reason: 'INVALID_ACCESS_TOKEN',
      },
      {
        who: 'non-admin user',
        token: plain.tokens.accessToken,
        code: 'PERMISSION_DENIED',
        reason: 'ADMIN_ROLE_REQUIRED',
      },
      {
        who: 'non-admin service account key',
        token: key.secret,
        code: 'PERMISSION_DENIED',
        reason: 'ADMIN_ROLE_REQUIRED',
      },
      { who: 'admin', token, code: 'admin', reason: '' },
    ] as const;
    const methods = Object.keys(WebhookAdminServiceService) as (keyof Methods & string)[];
    assert.equal(methods.length, 9);
    for (const method of methods) {
      for (const caller of callers) {
        // Ids that name nothing: no call can change real state.
        const request = {
          webhookEndpointId: randomUUID(),
          webhookDeliveryId: randomUUID(),
          endpoint: { id: randomUUID(), url: '', eventTypes: [], enabled: false, description: 'x' },
          updateMask: ['description'],
          url: 'not a url',
        };
        const requestId = randomUUID();
        let error: unknown;
        try {
          await hook(client, method, request as never, {
            ...(caller.token === undefined ? {} : { token: caller.token }),
            metadata: { 'x-request-id': requestId },
          });
        } catch (e) {
          error = e;
        }
        if (caller.code === 'admin') {
          if (method === 'listWebhookEndpoints') assert.equal(error, undefined);
          else {
            const s = rpcStatus(error);
            assert.ok(
              ['NOT_FOUND', 'INVALID_ARGUMENT'].includes(status[s.grpcCode] ?? ''),
              `${method} by admin: ${status[s.grpcCode]} ${s.errorInfo?.reason}`,
            );
          }
        } else {
          const s = rpcStatus(error);
          assert.equal(status[s.grpcCode], caller.code, `${method} by ${caller.who}`);
          assert.equal(s.errorInfo?.reason, caller.reason, `${method} by ${caller.who}`);
        }
        const rows = await gh.db.query<{ action: string; outcome: string }>(
          `SELECT action, outcome FROM audit_events WHERE request_id = $1 AND action LIKE 'webhook_%'`,
          [requestId],
        );
        assert.equal(rows.length, 1, `${method} by ${caller.who}: one audit event`);
        assert.equal(
          rows[0]?.outcome,
          caller.code === 'admin'
            ? error === undefined
              ? 'success'
              : 'failure'
            : caller.code === 'UNAUTHENTICATED'
              ? 'failure'
              : 'denied',
          `${method} by ${caller.who}`,
        );
      }
    }
  });

  it('shows the secret once: create returns it, get and list never do, and it is sealed at rest', async () => {
    const created = await createEndpoint('/ok', ['user.created']);
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const id = created.endpoint?.id ?? '';
    const got = await hook(client, 'getWebhookEndpoint', { webhookEndpointId: id }, { token });
    const listed = await hook(client, 'listWebhookEndpoints', { pageSize: 500 }, { token });
    const key = created.secret.slice('whsec_'.length);
    for (const shown of [got, listed]) {
      assert.ok(!JSON.stringify(shown).includes(key), 'no secret in get/list');
      assert.ok(!('secret' in shown), 'no secret field');
    }
    assert.equal(got.endpoint?.url, receiver.url('/ok'));
    assert.deepEqual(got.endpoint?.eventTypes, ['user.created']);
    assert.ok(listed.endpoints.some((e) => e.id === id));
    const [row] = await gh.db.query<{ secret_ciphertext: Buffer }>(
      'SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1',
      [id],
    );
    assert.ok(row && !row.secret_ciphertext.toString('latin1').includes(key));
    assert.ok(!row.secret_ciphertext.includes(Buffer.from(key, 'base64')));
    const audit = await gh.db.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_events WHERE action = 'webhook_endpoint_create' AND details->>'webhook_endpoint_id' = $1`,
      [id],
    );
    assert.equal(audit.length, 1);
    assert.ok(!JSON.stringify(audit).includes(key));
    await hook(client, 'deleteWebhookEndpoint', { webhookEndpointId: id }, { token });
    await expectRpcError(
      hook(client, 'getWebhookEndpoint', { webhookEndpointId: id }, { token }),
      status.NOT_FOUND,
      'WEBHOOK_ENDPOINT_NOT_FOUND',
    );
  });

  it('refuses bad fields with the field named', async () => {
    const s = await expectRpcError(
      hook(
        client,
        'createWebhookEndpoint',
        { url: 'nope', eventTypes: ['user.nothing'], enabled: true },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual((s.fieldViolations ?? []).map((v) => v.field).sort(), ['event_types', 'url']);
    await expectRpcError(
      hook(
        client,
        'createWebhookEndpoint',
        { url: receiver.url('/ok'), eventTypes: [], enabled: true },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('delivers events of real changes, signed, verifiable with standardwebhooks', async () => {
    const types = [
      'user.created',
      'session.created',
      'login.failed',
      'password.changed',
      'session.revoked',
      'user.updated',
      'user.disabled',
    ];
    const { endpoint, secret } = await createEndpoint('/ok?events', types);
    const email = uniqueEmail('hooked');
    const u = await registerUser(gh, { email });
    const userId = u.user.id;
    await assert.rejects(
      call(gh.auth, 'login', { identifier: email, password: 'wrong-password-here-1' }),
    );
    const login = await call(gh.auth, 'login', { identifier: email, password: PASSWORD });
    const newPassword = 'another-long-harbour-password-7';
    const changed = await call(
      gh.auth,
      'changePassword',
      { currentPassword: PASSWORD, newPassword },
      { token: login.tokens?.accessToken ?? '' },
    );
    await call(gh.auth, 'logout', {}, { token: changed.tokens?.accessToken ?? '' });
    await call(
      gh.admin,
      'updateUser',
      {
        user: User.fromPartial({ id: userId, displayName: 'Hooked' }),
        updateMask: ['display_name'],
      },
      { token },
    );
    await call(gh.admin, 'disableUser', { userId }, { token });

    const seen = new Map<string, { type: string; data: Record<string, unknown> }>();
    await eventually(
      async () => {
        for (const r of receiver.received.filter((x) => x.path === '/ok?events')) {
          const event = verify(secret, r);
          if (event.data.user_id === userId) seen.set(event.type, event);
        }
        return [...seen.keys()].sort();
      },
      (got) => types.every((t) => got.includes(t)),
      { what: 'every event type of the changes' },
    );
    for (const r of receiver.received.filter((x) => x.path === '/ok?events')) {
      assert.match(String(r.headers['webhook-id']), /^evt_[0-9a-f]{32}$/);
      assert.equal(r.headers['content-type'], 'application/json');
      const event = verify(secret, r);
      assert.match(event.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(
        !r.body.includes(PASSWORD) && !r.body.includes(newPassword),
        'no password in payloads',
      );
      assert.ok(!r.body.includes('$argon2'), 'no hash in payloads');
    }
    assert.equal(typeof seen.get('session.created')?.data.session_id, 'string');
    assert.equal(seen.get('user.updated')?.data.fields, 'display_name');
    assert.equal(seen.get('login.failed')?.data.reason, 'wrong_password');
    // A tampered body does not verify.
    const one = receiver.received.find((x) => x.path === '/ok?events') as Received;
    assert.throws(() => new Webhook(secret).verify(`${one.body} `, headersOf(one)));
    // Every delivery is listed as succeeded.
    const listed = await deliveriesOf(
      endpoint?.id ?? '',
      WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_SUCCEEDED,
    );
    assert.ok(listed.length >= types.length);
    assert.ok(listed.every((d) => d.attempts === 1 && d.lastStatusCode === 204 && d.deliveredTime));
  });

  it('writes no event for a change that rolls back (CreateUser of a taken email)', async () => {
    await createEndpoint('/ok?created', ['user.created']);
    const count = async () =>
      Number(
        (
          await gh.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM webhook_events WHERE type = 'user.created'`,
          )
        )[0]?.n,
      );
    const taken = (await registerUser(gh)).email;
    const before = await count();
    await expectRpcError(
      call(gh.admin, 'createUser', { email: taken, roles: [], emailVerified: false }, { token }),
      status.ALREADY_EXISTS,
      'EMAIL_TAKEN',
    );
    assert.equal(await count(), before, 'the failed CreateUser queued nothing');
    const created = await call(
      gh.admin,
      'createUser',
      { email: uniqueEmail(), roles: [], emailVerified: false },
      { token },
    );
    assert.equal(await count(), before + 1, 'a successful CreateUser queued one event');
    await receivedOn('/ok?created', (r) => r.body.includes(created.user?.user?.id ?? '?'));
  });

  it('retries a failing receiver with backoff, dead-letters it, lists and replays it', async () => {
    receiver.setFailing(true);
    const { endpoint, secret } = await createEndpoint('/fail', ['user.created']);
    const id = endpoint?.id ?? '';
    const u = await registerUser(gh);
    const dead = await eventually(
      () => deliveriesOf(id, WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_DEAD),
      (ds) => ds.length === 1,
      { what: 'a dead delivery' },
    );
    const delivery = dead[0] as WebhookDelivery;
    assert.equal(delivery.attempts, 3);
    assert.equal(delivery.lastStatusCode, 500);
    assert.equal(delivery.lastError, 'HTTP 500');
    assert.equal(delivery.nextAttemptTime, undefined);
    const attempts = receiver.received.filter((r) => r.path === '/fail');
    assert.equal(attempts.length, 3, 'three attempts (WEBHOOK_MAX_ATTEMPTS)');
    // The same event each time: one webhook-id (the backoff itself: retryDelayMs.test.ts).
    assert.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1);
    assert.equal(attempts[0]?.headers['webhook-id'], delivery.eventId);
    for (const r of attempts) assert.equal(verify(secret, r).data.user_id, u.user.id);
    assert.deepEqual(
      await deliveriesOf(id, WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_SUCCEEDED),
      [],
    );

    receiver.setFailing(false);
    const replayed = await hook(
      client,
      'replayWebhookDelivery',
      { webhookEndpointId: id, webhookDeliveryId: delivery.id },
      { token },
    );
    assert.equal(replayed.delivery?.status, WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_PENDING);
    const ok = await eventually(
      () => deliveriesOf(id, WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_SUCCEEDED),
      (ds) => ds.length === 1,
      { what: 'the replayed delivery to succeed' },
    );
    assert.equal(ok[0]?.eventId, delivery.eventId);
    const all = receiver.received.filter((r) => r.path === '/fail');
    assert.equal(all.length, 4);
    assert.equal(all[3]?.headers['webhook-id'], delivery.eventId, 'a replay keeps the webhook-id');
    verify(secret, all[3] as Received);
    await expectRpcError(
      hook(
        client,
        'replayWebhookDelivery',
        { webhookEndpointId: id, webhookDeliveryId: randomUUID() },
        { token },
      ),
      status.NOT_FOUND,
      'WEBHOOK_DELIVERY_NOT_FOUND',
    );
  });

  it('signs with both secrets during the overlap after a rotation', async () => {
    const { endpoint, secret: oldSecret } = await createEndpoint('/ok?rotated', ['user.created']);
    const id = endpoint?.id ?? '';
    const rotated = await hook(client, 'rotateWebhookSecret', { webhookEndpointId: id }, { token });
    assert.notEqual(rotated.secret, oldSecret);
    assert.ok(rotated.endpoint?.previousSecretExpireTime instanceof Date);
    assert.ok(
      (rotated.endpoint?.previousSecretExpireTime?.getTime() ?? 0) > Date.now() + 23 * 3600_000,
    );
    const u = await registerUser(gh);
    const r = await receivedOn('/ok?rotated', (x) => x.body.includes(u.user.id));
    assert.equal(String(r.headers['webhook-signature']).split(' ').length, 2);
    assert.equal(verify(rotated.secret, r).data.user_id, u.user.id);
    assert.equal(verify(oldSecret, r).data.user_id, u.user.id);
    assert.throws(() => verify(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, r));
  });

  it('does not follow redirects: a 3xx is a failed attempt', async () => {
    const { endpoint } = await createEndpoint('/redirect', ['user.created']);
    const id = endpoint?.id ?? '';
    const test = await hook(client, 'sendTestWebhookEvent', { webhookEndpointId: id }, { token });
    const eventId = test.delivery?.eventId ?? '';
    assert.match(eventId, /^evt_/);
    const [failed] = await eventually(
      () => deliveriesOf(id),
      (ds) => ds.some((d) => d.lastStatusCode === 302),
      { what: 'the redirect to be recorded' },
    );
    assert.notEqual(failed?.status, WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_SUCCEEDED);
    assert.match(failed?.lastError ?? '', /redirects are not followed/);
    assert.ok(
      receiver.received.some((r) => r.path === '/redirect' && r.headers['webhook-id'] === eventId),
    );
    assert.ok(
      !receiver.received.some((r) => r.path === '/ok' && r.headers['webhook-id'] === eventId),
    );
  });

  it('queues nothing for a disabled endpoint, and updates by field mask', async () => {
    const { endpoint } = await createEndpoint('/ok?disabled', ['user.created'], false);
    const id = endpoint?.id ?? '';
    await registerUser(gh);
    const queued = await gh.db.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1', [
      id,
    ]);
    assert.equal(queued.length, 0);
    const updated = await hook(
      client,
      'updateWebhookEndpoint',
      {
        endpoint: {
          id,
          url: '',
          eventTypes: ['user.created', 'user.deleted'],
          enabled: true,
          description: '',
        },
        updateMask: ['enabled', 'event_types'],
      },
      { token },
    );
    assert.equal(updated.endpoint?.enabled, true);
    assert.deepEqual(updated.endpoint?.eventTypes, ['user.created', 'user.deleted']);
    assert.equal(updated.endpoint?.url, receiver.url('/ok?disabled'), 'url untouched');
    assert.equal(updated.endpoint?.description, 'test /ok?disabled', 'description untouched');
    const u = await registerUser(gh);
    await receivedOn('/ok?disabled', (r) => r.body.includes(u.user.id));
  });
});

describe('webhook address rules (private networks not allowed)', () => {
  let gh: Gatehouse;
  let client: WebhookAdminServiceClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;

  before(async () => {
    receiver = await startReceiver();
    gh = await startGatehouse({
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '20',
      WEBHOOK_MAX_ATTEMPTS: '1',
    });
    client = new WebhookAdminServiceClient(gh.target, credentials.createInsecure());
    token = await adminToken(gh);
  });
  after(async () => {
    client.close();
    await gh.stop();
    await receiver.close();
  });

  it('refuses an IP literal of a non-public range at create and update', async () => {
    for (const url of [
      receiver.url('/ok'),
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://10.0.0.5/hook',
      'http://169.254.169.254/latest',
      'http://0x7f000001/hook',
    ]) {
      const s = await expectRpcError(
        hook(
          client,
          'createWebhookEndpoint',
          { url, eventTypes: ['user.created'], enabled: true },
          { token },
        ),
        status.INVALID_ARGUMENT,
        'WEBHOOK_URL_NOT_ALLOWED',
      );
      assert.equal(s.fieldViolations?.[0]?.field, 'url', url);
      assert.match(s.message, /public addresses only/, url);
    }
    const created = await hook(
      client,
      'createWebhookEndpoint',
      { url: 'http://hooks.example.com/x', eventTypes: ['user.created'], enabled: false },
      { token },
    );
    const s = await expectRpcError(
      hook(
        client,
        'updateWebhookEndpoint',
        {
          endpoint: {
            id: created.endpoint?.id ?? '',
            url: 'http://127.0.0.1/x',
            eventTypes: [],
            enabled: false,
            description: '',
          },
          updateMask: ['url'],
        },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'WEBHOOK_URL_NOT_ALLOWED',
    );
    assert.equal(s.fieldViolations?.[0]?.field, 'endpoint.url');
  });

  it('refuses at delivery time a host name that resolves to loopback (localhost)', async () => {
    const created = await hook(
      client,
      'createWebhookEndpoint',
      { url: receiver.localhostUrl('/ok'), eventTypes: ['user.created'], enabled: true },
      { token },
    );
    const id = created.endpoint?.id ?? '';
    await hook(client, 'sendTestWebhookEvent', { webhookEndpointId: id }, { token });
    await registerUser(gh);
    const deliveries = await eventually(
      async () =>
        (
          await hook(
            client,
            'listWebhookDeliveries',
            { webhookEndpointId: id, status: WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_DEAD },
            { token },
          )
        ).deliveries,
      (ds) => ds.length === 2,
      { what: 'both deliveries refused' },
    );
    for (const d of deliveries) {
      assert.match(d.lastError, /refused: localhost resolves to .* loopback address/);
      assert.equal(d.lastStatusCode, 0);
    }
    assert.equal(receiver.received.length, 0, 'nothing reached the receiver');
  });
});

describe('webhook events of sessions: one per session, whatever the path', () => {
  let gh: Gatehouse;
  let smtp: SmtpReceiver;
  let client: WebhookAdminServiceClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;
  let secret: string;
  const RESET_URL = 'https://app.example.com/reset';

  before(async () => {
    receiver = await startReceiver();
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse({
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '20',
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Accounts <accounts@acme.test>',
      PASSWORD_RESET_URL: RESET_URL,
      MAIL_POLL_INTERVAL_MS: '50',
    });
    client = new WebhookAdminServiceClient(gh.target, credentials.createInsecure());
    token = await adminToken(gh);
    const created = await hook(
      client,
      'createWebhookEndpoint',
      {
        url: receiver.url('/ok?sessions'),
        eventTypes: ['session.created', 'session.revoked', 'login.failed'],
        enabled: true,
      },
      { token },
    );
    secret = created.secret;
  });
  after(async () => {
    client?.close();
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop();
      await receiver?.close();
    }
  });

  const login = async (identifier: string, password = PASSWORD) => {
    const res = await call(gh.auth, 'login', { identifier, password });
    assert.ok(res.tokens, 'the login issued a session');
    return res.tokens;
  };

  /** The session events queued about a user: type, session id and (revoked) reason. */
  const sessionEventsOf = async (userId: string) =>
    gh.db.query<{
      type: string;
      session_id: string;
      reason: string | null;
      payload: { type: string; timestamp: string; data: Record<string, unknown> };
    }>(
      `SELECT type, payload->'data'->>'session_id' AS session_id,
              payload->'data'->>'reason' AS reason, payload
       FROM webhook_events
       WHERE type LIKE 'session.%' AND payload->'data'->>'user_id' = $1`,
      [userId],
    );

  /**
   * Every session of the user has exactly one session.created, and every revoked one exactly
   * one session.revoked carrying the reason stored on it; returns the revocation reasons.
   */
  async function assertOneEventPerSession(userId: string): Promise<string[]> {
    const sessions = await gh.db.query<{ id: string; revoked_reason: string | null }>(
      `SELECT id, revoked_reason FROM sessions WHERE user_id = $1`,
      [userId],
    );
    const events = await sessionEventsOf(userId);
    const created = events.filter((e) => e.type === 'session.created').map((e) => e.session_id);
    assert.deepEqual(created.sort(), sessions.map((s) => s.id).sort(), 'one session.created each');
    const revoked = events
      .filter((e) => e.type === 'session.revoked')
      .map((e) => `${e.session_id} ${e.reason}`);
    const expected = sessions
      .filter((s) => s.revoked_reason !== null)
      .map((s) => `${s.id} ${s.revoked_reason}`);
    assert.deepEqual(revoked.sort(), expected.sort(), 'one session.revoked per revoked session');
    return sessions.flatMap((s) => (s.revoked_reason === null ? [] : [s.revoked_reason])).sort();
  }

  it('sends session.created for Register, Register with an invitation, Login, CompleteMfaLogin and ChangePassword', async () => {
    const u = await registerUser(gh);
    await login(u.email);
    const last = await login(u.email);
    const newPassword = 'another-long-harbour-password-7';
    const changed = await call(
      gh.auth,
      'changePassword',
      { currentPassword: PASSWORD, newPassword },
      { token: last.accessToken },
    );
    assert.deepEqual(
      await assertOneEventPerSession(u.user.id),
      ['password_change', 'password_change', 'password_change'],
      'ChangePassword ends the three sessions and starts a fourth',
    );
    assert.equal((await sessionEventsOf(u.user.id)).length, 4 + 3);
    const fresh = (await sessionEventsOf(u.user.id)).find(
      (e) => e.session_id === changed.tokens?.sessionId,
    );
    assert.deepEqual(fresh?.payload, {
      type: 'session.created',
      timestamp: fresh?.payload.timestamp,
      data: {
        session_id: changed.tokens?.sessionId,
        user_id: u.user.id,
        organization_id: null,
        amr: 'pwd',
      },
    });

    // CompleteMfaLogin: a user with TOTP signs in with a recovery code.
    const m = await registerUser(gh);
    const started = await call(gh.auth, 'startTotpEnrollment', {}, { token: m.tokens.accessToken });
    const confirmed = await atStableStep((s) =>
      settle(
        call(
          gh.auth,
          'confirmTotpEnrollment',
          { code: totpCode(started.secret, s - 1) },
          { token: m.tokens.accessToken },
        ),
      ),
    );
    assert.ok(confirmed.ok, 'TOTP enrolled');
    const challenge = await call(gh.auth, 'login', { identifier: m.email, password: PASSWORD });
    assert.ok(challenge.mfaRequired, 'the second factor is asked for');
    const completed = await call(gh.auth, 'completeMfaLogin', {
      challengeToken: challenge.mfaRequired.challengeToken,
      factor: { $case: 'recoveryCode', value: confirmed.value.recoveryCodes[0] ?? '' },
    });
    assert.deepEqual(await assertOneEventPerSession(m.user.id), []);
    const mfaSession = (await sessionEventsOf(m.user.id)).find(
      (e) => e.session_id === completed.tokens?.sessionId,
    );
    assert.match(String(mfaSession?.payload.data.amr), /mfa/);

    // Register with an invitation joins an organisation: the session acts in it.
    const fx = orgFixtures(gh.db);
    const org = await fx.organization();
    const email = uniqueEmail('invited');
    const invitationToken = `ghin_${randomBytes(32).toString('base64url')}`;
    await gh.db.query(
      `INSERT INTO invitations (organization_id, email_normalized, role_ids, token_hash,
                                created_at, expires_at)
       VALUES ($1, $2, $3, $4, now(), now() + interval '7 days')`,
      [
        org,
        email,
        [await fx.role(uniqueName('desk'), 'organization', ['desk:open'])],
        sha256(invitationToken),
      ],
    );
    const invited = await call(gh.auth, 'register', { email, password: PASSWORD, invitationToken });
    const invitedId = invited.user?.id ?? '';
    assert.deepEqual(await assertOneEventPerSession(invitedId), []);
    const [joined] = await sessionEventsOf(invitedId);
    assert.equal(joined?.payload.data.organization_id, org);

    // And they are delivered, signed.
    const delivered = await eventually(
      async () =>
        receiver.received
          .filter((r) => r.path === '/ok?sessions')
          .map((r) => verify(secret, r))
          .filter(
            (e) =>
              e.type === 'session.created' && e.data.session_id === completed.tokens?.sessionId,
          ),
      (found) => found.length > 0,
      { what: 'the session.created of CompleteMfaLogin at the receiver' },
    );
    assert.equal(delivered[0]?.data.user_id, m.user.id);
  });

  it('sends session.revoked per session for every path that ends sessions, with its reason', async () => {
    // RevokeOtherSessions, then Logout.
    const a = await registerUser(gh);
    await login(a.email);
    const a3 = await login(a.email);
    const others = await call(gh.auth, 'revokeOtherSessions', {}, { token: a3.accessToken });
    assert.equal(others.revokedCount, 2);
    await call(gh.auth, 'logout', {}, { token: a3.accessToken });
    assert.deepEqual(await assertOneEventPerSession(a.user.id), [
      'logout',
      'user_revoke_others',
      'user_revoke_others',
    ]);

    // RevokeSession, then refresh-token reuse.
    const b = await registerUser(gh);
    const b2 = await login(b.email);
    await call(
      gh.auth,
      'revokeSession',
      { sessionId: b.tokens.sessionId },
      { token: b2.accessToken },
    );
    await call(gh.auth, 'refresh', { refreshToken: b2.refreshToken });
    // The first refresh token used again, well after the grace window: reuse.
    await gh.db.query(
      `UPDATE refresh_tokens SET used_at = used_at - interval '1 hour' WHERE session_id = $1`,
      [b2.sessionId],
    );
    await assert.rejects(call(gh.auth, 'refresh', { refreshToken: b2.refreshToken }));
    assert.deepEqual(await assertOneEventPerSession(b.user.id), [
      'refresh_token_reuse',
      'session_revoke',
    ]);

    // The administrator's RevokeUserSessions, ResetUserMfa, DisableUser and DeleteUser.
    const c = await registerUser(gh);
    await login(c.email);
    await call(gh.admin, 'revokeUserSessions', { userId: c.user.id }, { token });
    await login(c.email);
    await call(gh.admin, 'resetUserMfa', { userId: c.user.id }, { token });
    await login(c.email);
    await call(gh.admin, 'disableUser', { userId: c.user.id }, { token });
    await call(gh.admin, 'enableUser', { userId: c.user.id }, { token });
    await login(c.email);
    await call(gh.admin, 'deleteUser', { userId: c.user.id }, { token });
    assert.deepEqual(await assertOneEventPerSession(c.user.id), [
      'admin_delete',
      'admin_disable',
      'admin_revoke',
      'admin_revoke',
      'admin_revoke',
    ]);

    // ResetPassword with the mailed token.
    const d = await registerUser(gh);
    await login(d.email);
    await call(gh.auth, 'requestPasswordReset', { email: d.email });
    const mail = await smtp.next(d.email);
    await call(gh.auth, 'resetPassword', {
      token: tokenFromLink(mail.text, RESET_URL).token,
      newPassword: 'a-brand-new-harbour-password-3',
    });
    assert.deepEqual(await assertOneEventPerSession(d.user.id), [
      'password_reset',
      'password_reset',
    ]);
  });

  it('writes a failed sign-in recorded outside a transaction and its event together or not at all', async () => {
    const countFor = async (reason: string) =>
      (
        await gh.db.query<{ audits: string; events: string }>(
          `SELECT (SELECT count(*) FROM audit_events
                   WHERE action = 'mfa_verify' AND details->>'reason' = $1) AS audits,
                  (SELECT count(*) FROM webhook_events
                   WHERE type = 'login.failed' AND payload->'data'->>'reason' = $1) AS events`,
          [reason],
        )
      )[0];
    const unknownChallenge = () =>
      call(gh.auth, 'completeMfaLogin', {
        challengeToken: 'not-a-challenge',
        factor: { $case: 'totpCode', value: '123456' },
      });
    // The event's insert fails: the audit row of the refusal must not stay behind either.
    await gh.db.query(`
      CREATE FUNCTION test_refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'webhook event refused by the test'; END $$`);
    await gh.db.query(`
      CREATE TRIGGER test_refuse_event BEFORE INSERT ON webhook_events
      FOR EACH ROW WHEN (NEW.type = 'login.failed') EXECUTE FUNCTION test_refuse_event()`);
    try {
      await assert.rejects(unknownChallenge());
      assert.deepEqual(await countFor('unknown_challenge'), { audits: '0', events: '0' });
    } finally {
      await gh.db.query(`DROP TRIGGER test_refuse_event ON webhook_events`);
      await gh.db.query(`DROP FUNCTION test_refuse_event()`);
    }
    await expectRpcError(unknownChallenge(), status.UNAUTHENTICATED, 'MFA_CHALLENGE_INVALID');
    assert.deepEqual(await countFor('unknown_challenge'), { audits: '1', events: '1' });
  });

  it('prunes finished deliveries and their events after WEBHOOK_RETENTION_DAYS, from the cleanup runner', async () => {
    const ok = await hook(
      client,
      'createWebhookEndpoint',
      { url: receiver.url('/ok?retention'), eventTypes: ['user.updated'], enabled: true },
      { token },
    );
    const failing = await hook(
      client,
      'createWebhookEndpoint',
      { url: receiver.url('/fail?retention'), eventTypes: ['user.updated'], enabled: true },
      { token },
    );
    const okId = ok.endpoint?.id ?? '';
    const failId = failing.endpoint?.id ?? '';
    const send = async (endpointId: string) =>
      (await hook(client, 'sendTestWebhookEvent', { webhookEndpointId: endpointId }, { token }))
        .delivery?.id ?? '';
    const deliveryStatus = async (id: string) =>
      (
        await gh.db.query<{ status: string }>(
          'SELECT status FROM webhook_deliveries WHERE id = $1',
          [id],
        )
      )[0]?.status;
    const [oldDone, recentDone, oldDead, oldFailed] = [
      await send(okId),
      await send(okId),
      await send(failId),
      await send(failId),
    ];
    for (const [id, want] of [
      [oldDone, 'succeeded'],
      [recentDone, 'succeeded'],
      [oldDead, 'failed'],
      [oldFailed, 'failed'],
    ] as const) {
      await eventually(
        () => deliveryStatus(id),
        (got) => got === want,
        { what: `${id} ${want}` },
      );
    }
    // One gave up on, one still to be retried (tomorrow): neither is claimed meanwhile (the
    // first retry is seconds away, WEBHOOK_RETRY_BASE_MS).
    await gh.db.query(
      `UPDATE webhook_deliveries
       SET status = CASE WHEN id = $1 THEN 'dead' ELSE status END,
           next_attempt_at = now() + interval '1 day'
       WHERE id = ANY($2::uuid[])`,
      [oldDead, [oldDead, oldFailed]],
    );
    const age = (ids: string[], days: number) =>
      gh.db.query(
        `WITH d AS (
           UPDATE webhook_deliveries SET updated_at = now() - make_interval(days => $2),
                                         created_at = now() - make_interval(days => $2)
           WHERE id = ANY($1::uuid[]) RETURNING event_id)
         UPDATE webhook_events SET occurred_at = now() - make_interval(days => $2)
         WHERE id IN (SELECT event_id FROM d)`,
        [ids, days],
      );
    await age([oldDone, oldDead, oldFailed], 31);
    await age([recentDone], 29);
    // An event of an endpoint deleted long ago: no delivery is left.
    const [orphan] = await gh.db.query<{ id: string }>(
      `INSERT INTO webhook_events (type, payload, occurred_at)
       VALUES ('user.updated', '{}', now() - interval '40 days') RETURNING id`,
    );
    const eventOf = async (deliveryId: string) =>
      (
        await gh.db.query<{ event_id: string }>(
          'SELECT event_id FROM webhook_deliveries WHERE id = $1',
          [deliveryId],
        )
      )[0]?.event_id ?? '';
    const events = {
      oldDone: await eventOf(oldDone),
      recentDone: await eventOf(recentDone),
      oldDead: await eventOf(oldDead),
      oldFailed: await eventOf(oldFailed),
      orphan: orphan?.id ?? '',
    };

    const pool = await createDatabase({
      url: gh.db.url,
      poolMax: 2,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 3000,
    });
    const metrics = createCleanupMetrics(new Registry());
    try {
      const runner = createCleanupRunner({
        pool,
        log: pino({ level: 'silent' }),
        metrics,
        config: { intervalSec: 900, settings: {} },
        webhookRetentionDays: 30,
      });
      await runner.tick();
      await runner.stop();
    } finally {
      await pool.end();
    }

    const left = async (table: string, ids: string[]) =>
      (
        await gh.db.query<{ id: string }>(`SELECT id FROM ${table} WHERE id = ANY($1::uuid[])`, [
          ids,
        ])
      )
        .map((r) => r.id)
        .sort();
    assert.deepEqual(
      await left('webhook_deliveries', [oldDone, recentDone, oldDead, oldFailed]),
      [recentDone, oldFailed].sort(),
      'the old succeeded and dead deliveries went; the recent one and the unfinished one stay',
    );
    assert.deepEqual(
      await left('webhook_events', Object.values(events)),
      [events.recentDone, events.oldFailed].sort(),
      'their events went too, and the orphan',
    );
    const counted = async (table: string) =>
      (await metrics.deletedRows.get()).values.find((v) => v.labels.table === table)?.value;
    assert.equal(await counted('webhook_deliveries'), 2);
    assert.equal(await counted('webhook_events'), 3);
    const listed = await hook(
      client,
      'listWebhookDeliveries',
      { webhookEndpointId: okId },
      { token },
    );
    assert.deepEqual(
      listed.deliveries.map((d) => d.id),
      [recentDone],
    );
  });
});
