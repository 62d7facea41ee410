import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ConnectConfig } from '../config/servingConfig.ts';
import { bindConnectService } from '../connect/bindConnectService.ts';
import { createConnectHandler } from '../connect/createConnectHandler.ts';
import { loadProtoRegistry } from '../connect/protoRegistry.ts';
import { createConnectErrors } from '../connect/toConnectError.ts';
import type { Logger } from '../log.ts';
import type { BindDeps } from '../transport/beginCall.ts';
import type { ApiService } from './apiServices.ts';
import type { Closers } from './createClosers.ts';
import { type ListenTarget, listenFailure } from './listen.ts';

export interface ConnectServer {
  port: number;
  /** Stops accepting connections and closes idle ones; open calls finish. */
  drain(): void;
  /** Resolves when every connection has closed. */
  closed(): Promise<void>;
  /** Ends the calls still open. */
  forceClose(): void;
}

/**
 * The Connect, gRPC-Web and JSON listener on CONNECT_HOST:CONNECT_PORT: the API services with
 * the gRPC server's handlers, policy chains and error mapping. HTTP/1.1 in plain text; with
 * TLS_CERT_FILE/TLS_KEY_FILE, HTTPS with HTTP/2 and HTTP/1.1 (and mTLS with TLS_CLIENT_CA_FILE).
 */
export async function startConnectServer(
  config: ConnectConfig,
  log: Logger,
  apis: readonly ApiService[],
  bindDeps: BindDeps,
  closers: Closers,
): Promise<ConnectServer> {
  const protos = loadProtoRegistry();
  const deps = { ...bindDeps, toConnectError: createConnectErrors(protos) };
  const handler = createConnectHandler({
    registry: protos.registry,
    corsOrigins: config.corsOrigins,
    refreshCookie: config.refreshCookie,
    maxMessageBytes: config.maxMessageBytes,
    routes(router) {
      for (const api of apis) {
        bindConnectService(
          router,
          protos.service(api.typeName),
          api.definition,
          api.handlers,
          deps,
        );
      }
    },
  });
  const server: HttpServer | Http2SecureServer = config.tls
    ? createSecureServer(
        {
          allowHTTP1: true,
          settings: { maxHeaderListSize: config.maxHeaderBytes },
          cert: readFileSync(config.tls.certFile),
          key: readFileSync(config.tls.keyFile),
          // TLS_CLIENT_CA_FILE: client certificates are required here as on the gRPC port.
          ...(config.tls.clientCaFile === undefined
            ? {}
            : {
                ca: readFileSync(config.tls.clientCaFile),
                requestCert: true,
                rejectUnauthorized: true,
              }),
        },
        handler,
      )
    : createHttpServer({ maxHeaderSize: config.maxHeaderBytes }, handler);
  if ('headersTimeout' in server) {
    // Slow clients may not hold a connection open by trickling headers or a request body.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
  }
  const target: ListenTarget = {
    portSetting: 'CONNECT_PORT',
    hostSetting: 'CONNECT_HOST',
    host: config.host,
    port: config.port,
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenFailure(err, target)));
    server.listen(config.port, config.host, () => resolve());
  });
  server.on('error', (err) => log.error({ err }, 'Connect listener error'));
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    return closed;
  };
  const forceClose = () => {
    if ('closeAllConnections' in server) server.closeAllConnections();
  };
  closers.push(() => {
    forceClose();
    return close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    drain() {
      void close();
      if ('closeIdleConnections' in server) server.closeIdleConnections();
    },
    closed: close,
    forceClose,
  };
}
