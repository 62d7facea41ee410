import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type JsonObject, toJson } from '@bufbuild/protobuf';
import { ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { loadProtoRegistry } from '../src/connect/protoRegistry.ts';
import { eventually } from './helpers/eventually.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

// AuthService.WatchRevocations, a server stream, over Connect and gRPC-Web: the same policy
// before the first message, events as they happen, a cancelled stream ends the handler, and
// a shutdown ends open streams with UNAVAILABLE SHUTTING_DOWN.

const protos = loadProtoRegistry();
const AUTH = protos.service('gatehouse.auth.v1.AuthService');
const WATCH_OUTPUT = protos.message('gatehouse.auth.v1.WatchRevocationsResponse');
const ERROR_INFO = protos.message('google.rpc.ErrorInfo');

type Watch = {
  messages: JsonObject[];
  ended: Promise<ConnectError | undefined>;
  cancel(): void;
};

function watch(transport: Transport, key: string | undefined): Watch {
  const client = createClient(AUTH, transport) as unknown as Record<
    string,
    (req: unknown, options: unknown) => AsyncIterable<unknown>
  >;
  const abort = new AbortController();
  const messages: JsonObject[] = [];
  const stream = client.watchRevocations?.(
    { afterCursor: '' },
    {
      signal: abort.signal,
      headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
    },
  );
  assert.ok(stream);
  const ended = (async () => {
    try {
      for await (const m of stream) messages.push(toJson(WATCH_OUTPUT, m as never) as JsonObject);
      return undefined;
    } catch (error) {
      return ConnectError.from(error);
    }
  })();
  return { messages, ended, cancel: () => abort.abort() };
}

/** gatehouse_revocation_subscribers of `gh`'s /metrics. */
let subscribers: () => Promise<number>;

const reasonOf = (error: ConnectError | undefined) =>
  (error?.findDetails(ERROR_INFO)[0] as { reason?: string } | undefined)?.reason;

describe('WatchRevocations over Connect and gRPC-Web', () => {
  let gh: Gatehouse;
  let watcherKey: string;
  let transports: [string, Transport][];
  before(async () => {
    gh = await startGatehouse({ REVOCATION_HEARTBEAT_SEC: '1', REFRESH_REUSE_GRACE_SEC: '0' });
    const baseUrl = `http://127.0.0.1:${gh.app.connectPort}`;
    subscribers = async () => {
      const text = await (await fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('gatehouse_revocation_subscribers '));
      return Number(line?.split(' ')[1] ?? Number.NaN);
    };
    transports = [
      ['connect', createConnectTransport({ baseUrl, httpVersion: '1.1' })],
      ['grpc-web', createGrpcWebTransport({ baseUrl, httpVersion: '1.1' })],
    ];
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    const [role] = await gh.db.query(
      `INSERT INTO roles (name, scope) VALUES ('revocation-watcher', 'global') RETURNING id`,
    );
    await gh.db.query(
      `INSERT INTO role_permissions (role_id, permission) VALUES ($1, 'revocations:watch')`,
      [(role as { id: string }).id],
    );
    const token = admin.tokens.accessToken;
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      {
        name: `watcher-${randomUUID().slice(0, 8)}`,
        displayName: '',
        description: '',
        roles: ['revocation-watcher'],
      },
      { token },
    );
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: sa.serviceAccount?.id ?? '', displayName: '', roles: [] },
      { token },
    );
    watcherKey = key.secret;
  });
  after(async () => {
    await gh?.stop();
  });

  for (const protocol of ['connect', 'grpc-web']) {
    const transport = () => {
      const found = transports.find(([name]) => name === protocol)?.[1];
      assert.ok(found);
      return found;
    };

    it(`${protocol}: refuses an anonymous watcher with the stream's status`, async () => {
      const error = await watch(transport(), undefined).ended;
      assert.equal(error?.code, 16, String(error));
      assert.equal(reasonOf(error), 'INVALID_ACCESS_TOKEN');
    });

    it(`${protocol}: delivers a heartbeat, then the revocation of a logout`, async () => {
      const w = watch(transport(), watcherKey);
      await eventually(
        async () => w.messages.length,
        (n) => n >= 1,
        { what: 'first heartbeat' },
      );
      assert.ok(w.messages[0]?.heartbeat, JSON.stringify(w.messages[0]));
      const user = await registerUser(gh);
      await call(gh.auth, 'logout', { refreshToken: user.tokens.refreshToken });
      await eventually(
        async () => w.messages.map((m) => m.event as JsonObject | undefined),
        (events) => events.some((e) => e?.sessionId === user.tokens.sessionId),
        { what: 'the logout event' },
      );
      const event = w.messages
        .map((m) => m.event as JsonObject | undefined)
        .find((e) => e?.sessionId === user.tokens.sessionId);
      assert.equal(event?.reason, 'REVOCATION_REASON_LOGOUT');
      assert.equal(await subscribers(), 1, 'the open stream is a subscriber');
      w.cancel();
      const ended = await w.ended;
      assert.equal(ended?.code, 1, 'cancelled by the client');
      // The server's handler ends with it: no subscriber is left behind.
      await eventually(subscribers, (n) => n === 0, { what: 'no revocation subscriber left' });
    });
  }

  it('ends open streams with UNAVAILABLE SHUTTING_DOWN when the server stops', async () => {
    const transport = transports[0]?.[1];
    assert.ok(transport);
    const w = watch(transport, watcherKey);
    await eventually(
      async () => w.messages.length,
      (n) => n >= 1,
      { what: 'first heartbeat' },
    );
    const closing = gh.app.close();
    const error = await w.ended;
    assert.equal(error?.code, 14, String(error));
    assert.equal(reasonOf(error), 'SHUTTING_DOWN');
    await closing;
  });
});
