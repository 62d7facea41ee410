// Gatehouse from TypeScript with connect-es (@connectrpc/connect, protobuf-es code from
// @bufbuild/protoc-gen-es) over the gRPC protocol (createGrpcTransport, HTTP/2, to GRPC_PORT),
// or over the Connect protocol or gRPC-Web (to CONNECT_PORT, HTTP/1.1): registers a
// user, logs in, validates the access token, then makes two calls that fail and prints the
// google.rpc error details they carry (ConnectError.findDetails). Exits 0 only when every step
// had the expected outcome.
//
//   npx buf generate --template clients/connect-es/buf.gen.yaml
//   node clients/connect-es/main.ts [host:port] [grpc|connect|grpc-web]
//     (default 127.0.0.1:50051 grpc; the Connect port is 8081: 127.0.0.1:8081 connect)
import { randomBytes } from 'node:crypto';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { AuthService } from './gen/gatehouse/auth/v1/auth_service_pb.js';
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from './gen/google/rpc/error_details_pb.js';

const target = process.argv[2] ?? '127.0.0.1:50051';
const protocol = process.argv[3] ?? 'grpc';
// Always set a deadline: connect-es sends it as grpc-timeout.
const callOptions = { timeoutMs: 5000 };

const baseUrl = `http://${target}`;
const transports = {
  grpc: () => createGrpcTransport({ baseUrl }),
  connect: () => createConnectTransport({ baseUrl, httpVersion: '1.1' }),
  'grpc-web': () => createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }),
};
if (!(protocol in transports)) {
  console.error(`unknown protocol ${protocol}: use grpc, connect or grpc-web`);
  process.exit(2);
}
const transport = transports[protocol as keyof typeof transports]();
const client = createClient(AuthService, transport);

function fail(message: string): never {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

/** Runs a call that must fail with `code` and ErrorInfo `reason`; prints what it carried. */
async function expectError(
  label: string,
  attempt: Promise<unknown>,
  code: Code,
  reason: string,
): Promise<ConnectError> {
  const error = await attempt.then(
    () => fail(`${label}: succeeded, expected ${Code[code]}`),
    (e: unknown) => ConnectError.from(e),
  );
  const [info] = error.findDetails(ErrorInfoSchema);
  console.log(
    `${label}: ${Code[error.code]} reason=${info?.reason} domain=${info?.domain} message=${JSON.stringify(error.rawMessage)}`,
  );
  for (const badRequest of error.findDetails(BadRequestSchema)) {
    for (const v of badRequest.fieldViolations) {
      console.log(`  field violation: ${v.field}: ${v.description}`);
    }
  }
  for (const retry of error.findDetails(RetryInfoSchema)) {
    const delay = retry.retryDelay;
    const ms = delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : 0;
    console.log(`  retry after ${ms} ms`);
  }
  if (error.code !== code || info?.reason !== reason || info.domain !== 'gatehouse') {
    fail(`${label}: expected ${Code[code]} with reason ${reason}`);
  }
  return error;
}

/** Register, login, validate, then the two failing calls. */
async function main(): Promise<void> {
  const email = `connect-es-${randomBytes(6).toString('hex')}@example.com`;
  const password = `${randomBytes(9).toString('base64url')} staple horse`;

  const registered = await client.register({ email, password }, callOptions);
  if (!registered.user || !registered.tokens) fail('register: no user or tokens');
  console.log(`register: ok user_id=${registered.user.id}`);

  const loggedIn = await client.login({ identifier: email, password }, callOptions);
  if (!loggedIn.tokens) fail('login: no tokens');
  console.log(`login: ok session_id=${loggedIn.tokens.sessionId}`);

  const validated = await client.validateToken(
    { accessToken: loggedIn.tokens.accessToken },
    callOptions,
  );
  console.log(`validate: active=${validated.active} user_id=${validated.userId}`);
  if (!validated.active || validated.userId !== registered.user.id) fail('validate: not active');

  const invalid = await expectError(
    'register (invalid email)',
    client.register({ email: 'not-an-email', password }, callOptions),
    Code.InvalidArgument,
    'VALIDATION_FAILED',
  );
  const fields = invalid.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);
  if (!fields.some((v) => v.field === 'email')) fail('no violation for email');

  await expectError(
    'login (wrong password)',
    client.login({ identifier: email, password: `${password}-wrong` }, callOptions),
    Code.Unauthenticated,
    'INVALID_CREDENTIALS',
  );

  console.log('ok');
}

try {
  await main();
} catch (error) {
  const e = ConnectError.from(error);
  fail(`unexpected error: ${Code[e.code]} ${e.rawMessage}`);
}
