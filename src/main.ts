import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
const log = createLogger(config.logLevel);

try {
  const app = await createApp(config, log);
  const target = `127.0.0.1:${app.grpcPort}`;
  log.info(
    { grpcPort: app.grpcPort, httpPort: app.httpPort, tls: config.grpc.tls !== undefined },
    'gatehouse is listening',
  );
  if (config.env !== 'production') {
    process.stdout.write(
      [
        '',
        `Gatehouse is up: gRPC on ${target}, HTTP on http://127.0.0.1:${app.httpPort} (/healthz, /readyz, /.well-known/jwks.json, /metrics)`,
        'Try it from a terminal:',
        `  npx buf curl --protocol grpc --http2-prior-knowledge --list-methods http://${target}`,
        `  npx buf curl --protocol grpc --http2-prior-knowledge -d '{"email":"ada@example.com","password":"correct horse battery staple"}' http://${target}/gatehouse.auth.v1.AuthService/Register`,
        `  grpcurl -plaintext ${target} list`,
        '',
      ].join('\n'),
    );
  }
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down: draining in-flight calls');
    app.close().then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error) {
  log.fatal({ err: error }, 'gatehouse failed to start');
  process.exit(1);
}
