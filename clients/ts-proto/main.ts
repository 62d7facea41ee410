// Gatehouse from TypeScript with ts-proto and @grpc/grpc-js: registers a user, logs in,
// validates the access token, then makes two calls that fail and prints the google.rpc error
// details they carry. Exits 0 only when every step had the expected outcome. The channel loads
// ../service-config.json (deadlines, waitForReady, retries of the idempotent RPCs).
//
//   npx buf generate --template clients/ts-proto/buf.gen.yaml
//   node clients/ts-proto/main.ts [host:port]      (default 127.0.0.1:50051)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type CallOptions,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { AuthServiceClient } from './gen/gatehouse/auth/v1/auth_service.ts';
import {
  BadRequest,
  type BadRequest_FieldViolation,
  ErrorInfo,
  RetryInfo,
} from './gen/google/rpc/error_details.ts';
import { Status } from './gen/google/rpc/status.ts';

const target = process.argv[2] ?? '127.0.0.1:50051';
const DEADLINE_MS = 5000;

const serviceConfig = readFileSync(new URL('../service-config.json', import.meta.url), 'utf8');
const client = new AuthServiceClient(target, credentials.createInsecure(), {
  'grpc.service_config': serviceConfig,
});

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: Callback<Res>,
) => ClientUnaryCall;

/** One unary call with a deadline (always set one), as a promise. */
function call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new Metadata(), { deadline: Date.now() + DEADLINE_MS }, (e, r) =>
      e ? reject(e) : resolve(r),
    );
  });
}

interface Details {
  errorInfo?: ErrorInfo;
  fieldViolations: BadRequest_FieldViolation[];
  retryDelayMs?: number;
}

/** Decodes the google.rpc.Status of the grpc-status-details-bin trailer. */
function errorDetails(error: ServiceError): Details {
  const details: Details = { fieldViolations: [] };
  const [bin] = error.metadata.get('grpc-status-details-bin');
  if (!(bin instanceof Buffer)) return details;
  for (const any of Status.decode(bin).details) {
    switch (any.typeUrl) {
      case 'type.googleapis.com/google.rpc.ErrorInfo':
        details.errorInfo = ErrorInfo.decode(any.value);
        break;
      case 'type.googleapis.com/google.rpc.BadRequest':
        details.fieldViolations = BadRequest.decode(any.value).fieldViolations;
        break;
      case 'type.googleapis.com/google.rpc.RetryInfo': {
        const delay = RetryInfo.decode(any.value).retryDelay;
        details.retryDelayMs = delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : 0;
        break;
      }
    }
  }
  return details;
}

/** Retries a call while Gatehouse says to wait (rate limited, conflict), at most 3 times. */
async function withRetryInfo<T>(attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const e = error as ServiceError;
      const delay = errorDetails(e).retryDelayMs;
      const waitable = e.code === status.RESOURCE_EXHAUSTED || e.code === status.ABORTED;
      if (!waitable || delay === undefined || n >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function fail(message: string): never {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

/** Runs a call that must fail with `code` and ErrorInfo `reason`; prints what it carried. */
async function expectError(
  label: string,
  attempt: Promise<unknown>,
  code: status,
  reason: string,
): Promise<Details> {
  const error = await attempt.then(
    () => fail(`${label}: succeeded, expected ${status[code]}`),
    (e: ServiceError) => e,
  );
  const details = errorDetails(error);
  const info = details.errorInfo;
  console.log(
    `${label}: ${status[error.code]} reason=${info?.reason} domain=${info?.domain} message=${JSON.stringify(error.details)}`,
  );
  for (const v of details.fieldViolations) {
    console.log(`  field violation: ${v.field}: ${v.description}`);
  }
  if (details.retryDelayMs !== undefined) console.log(`  retry after ${details.retryDelayMs} ms`);
  if (error.code !== code || info?.reason !== reason || info.domain !== 'gatehouse') {
    fail(`${label}: expected ${status[code]} with reason ${reason}`);
  }
  return details;
}

/** Register, login, validate, then the two failing calls. */
async function main(): Promise<void> {
  const email = `ts-proto-${randomBytes(6).toString('hex')}@example.com`;
  const password = `${randomBytes(9).toString('base64url')} staple horse`;

  const registered = await call(client.register, { email, password });
  if (!registered.user || !registered.tokens) fail('register: no user or tokens');
  console.log(`register: ok user_id=${registered.user.id}`);

  const loggedIn = await call(client.login, { identifier: email, password });
  if (!loggedIn.tokens) fail('login: no tokens');
  console.log(`login: ok session_id=${loggedIn.tokens.sessionId}`);

  const { accessToken } = loggedIn.tokens;
  const validated = await withRetryInfo(() => call(client.validateToken, { accessToken }));
  console.log(`validate: active=${validated.active} user_id=${validated.userId}`);
  if (!validated.active || validated.userId !== registered.user.id) fail('validate: not active');

  const invalid = await expectError(
    'register (invalid email)',
    call(client.register, { email: 'not-an-email', password }),
    status.INVALID_ARGUMENT,
    'VALIDATION_FAILED',
  );
  if (!invalid.fieldViolations.some((v) => v.field === 'email')) fail('no violation for email');

  await expectError(
    'login (wrong password)',
    call(client.login, { identifier: email, password: `${password}-wrong` }),
    status.UNAUTHENTICATED,
    'INVALID_CREDENTIALS',
  );

  console.log('ok');
}

try {
  await main();
} catch (error) {
  const e = error as ServiceError;
  fail(`unexpected error: ${e.code === undefined ? e : `${status[e.code]} ${e.details}`}`);
} finally {
  client.close();
}
