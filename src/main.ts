import type { App } from './app.ts';
import { startTracing } from './tracing/startTracing.ts';

// Tracing first, the application after it: the instrumentations patch grpc-js, pg and ioredis as
// they load, so nothing may import them before this (hence the dynamic imports). Without an
// OTLP endpoint configured this loads nothing.
const tracing = await startTracing(process.env);
const { createApp } = await import('./app.ts');
const { ConfigError, loadConfig } = await import('./config.ts');
const { createLogger } = await import('./log.ts');
const { StartupError } = await import('./startup/StartupError.ts');

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) {
      process.stderr.write(`gatehouse: invalid setting ${problem}\n`);
    }
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
const log = createLogger(config.logLevel, config.logFormat, undefined, tracing?.logFields);
tracing?.reportTo(log);

/** host:port as bound, and the address a client on this machine connects to. */
function addresses(host: string, port: number): { bound: string; local: string } {
  const wrap = (h: string) => (h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`);
  if (host === '0.0.0.0' || host === '::') {
    return { bound: `${wrap(host)} (all interfaces)`, local: wrap('127.0.0.1') };
  }
  return { bound: wrap(host), local: wrap(host) };
}

// Installed before anything starts: a SIGTERM during start-up, or right after 'gatehouse is
// listening', must drain and stop the embedded PostgreSQL, not kill the process by default.
let app: App | undefined;
let signals = 0;
const shutDown = (running: App) => {
  running.close().then(
    async () => {
      log.info('shutdown complete');
      await tracing?.shutdown();
      process.exit(0);
    },
    (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
const stop = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) {
    log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  log.info({ signal }, 'shutting down: draining in-flight calls');
  if (app !== undefined) shutDown(app);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

try {
  app = await createApp(config, log);
  if (signals > 0) {
    shutDown(app); // signalled while starting
  } else {
    announce(app);
  }
} catch (error) {
  if (error instanceof StartupError) {
    // Causes the operator can fix: one line each, no stack.
    for (const problem of error.problems) process.stderr.write(`gatehouse: ${problem}\n`);
  } else {
    // Not foreseen: the stack goes to the log for the bug report.
    process.stderr.write(`gatehouse: failed to start: ${(error as Error).message}\n`);
    log.fatal({ err: error }, 'gatehouse failed to start');
  }
  process.exit(1);
}

/** The banner (development) and the 'gatehouse is listening' log line. */
function announce(app: App): void {
  const grpc = addresses(config.grpc.host, app.grpcPort);
  const http = addresses(config.http.host, app.httpPort);
  const connect =
    config.connect && app.connectPort !== undefined
      ? addresses(config.connect.host, app.connectPort)
      : undefined;
  const target = grpc.local;
  // The banner first: whoever waits for the log line below sees it complete.
  if (config.env !== 'production') {
    process.stdout.write(
      [
        '',
        `Gatehouse is up: gRPC on ${grpc.bound}, HTTP on ${http.bound}${connect ? `, Connect/gRPC-Web/JSON on ${connect.bound}` : ''}`,
        `  HTTP: http://${http.local}/healthz, /readyz, /.well-known/jwks.json, /metrics`,
        'Try it from a terminal:',
        `  npx buf curl --protocol grpc --http2-prior-knowledge --list-methods http://${target}`,
        `  npx buf curl --protocol grpc --http2-prior-knowledge -d '{"email":"ada@example.com","password":"correct horse battery staple"}' http://${target}/gatehouse.auth.v1.AuthService/Register`,
        ...(connect
          ? [
              `  curl -H 'content-type: application/json' -d '{"identifier":"ada@example.com","password":"correct horse battery staple"}' ${config.connect?.tls ? 'https' : 'http'}://${connect.local}/gatehouse.auth.v1.AuthService/Login`,
            ]
          : []),
        '',
      ].join('\n'),
    );
  }
  log.info(
    {
      grpcHost: config.grpc.host,
      grpcPort: app.grpcPort,
      httpHost: config.http.host,
      httpPort: app.httpPort,
      connectHost: config.connect?.host,
      connectPort: app.connectPort,
      tls: config.grpc.tls !== undefined,
    },
    'gatehouse is listening',
  );
}
