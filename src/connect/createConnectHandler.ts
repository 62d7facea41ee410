import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { FileRegistry } from '@bufbuild/protobuf';
import { type ConnectRouter, cors, createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { peerKey, peerOf } from './peerKey.ts';
import { createRefreshCookieInterceptor } from './refreshCookie.ts';

export interface ConnectHandlerOptions {
  routes(router: ConnectRouter): void;
  registry: FileRegistry;
  /** CONNECT_CORS_ORIGINS: the browser origins allowed to call; empty: none. */
  corsOrigins: readonly string[];
  /** The largest request message (GRPC_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** CONNECT_REFRESH_COOKIE: browsers keep refresh tokens in an HttpOnly cookie. */
  refreshCookie: boolean;
}

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

// What a page may send and read besides the protocols' own headers.
const ALLOWED_HEADERS = [...cors.allowedHeaders, 'Authorization', 'X-Request-Id'].join(', ');
const EXPOSED_HEADERS = [...cors.exposedHeaders, 'X-Request-Id', 'Retry-After'].join(', ');
const PREFLIGHT_MAX_AGE_SEC = 7200;

/**
 * The Connect listener's request handler: Connect (binary and JSON, including a plain
 * `curl -H 'content-type: application/json'` POST) and gRPC-Web, through connect-node's
 * router. gRPC itself stays on the grpc-js server. CORS is closed unless CONNECT_CORS_ORIGINS
 * lists the page's origin: a request that carries any other Origin — a page of another site
 * — is refused (403) before it reaches a handler, and so is its preflight. Requests without an
 * Origin (servers, curl) are not browsers' and pass.
 */
export function createConnectHandler(options: ConnectHandlerOptions) {
  const adapter = connectNodeAdapter({
    routes: options.routes,
    // One gRPC implementation: grpc-js on GRPC_PORT.
    grpc: false,
    readMaxBytes: options.maxMessageBytes,
    // Unknown JSON fields are an error (INVALID_ARGUMENT), as a typo should be.
    jsonOptions: { registry: options.registry, ignoreUnknownFields: false },
    contextValues: (req) => createContextValues().set(peerKey, peerOf(req.socket)),
    interceptors: options.refreshCookie ? [createRefreshCookieInterceptor()] : [],
  });
  const allowed = new Set(options.corsOrigins);
  return (req: Request, res: Response): void => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      res.setHeader('vary', 'Origin');
      if (!allowed.has(origin)) {
        refuseOrigin(res, origin);
        return;
      }
      res.setHeader('access-control-allow-origin', origin);
      // Only the refresh cookie needs credentials; without it pages send none.
      if (options.refreshCookie) res.setHeader('access-control-allow-credentials', 'true');
      if (req.method === 'OPTIONS') {
        res.statusCode = 204;
        res.setHeader('access-control-allow-methods', 'POST');
        res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
        res.setHeader('access-control-max-age', String(PREFLIGHT_MAX_AGE_SEC));
        res.end();
        return;
      }
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    }
    adapter(req, res);
  };
}

/** A Connect error body, so Connect and gRPC-Web clients read it too (403: permission_denied). */
function refuseOrigin(res: Response, origin: string): void {
  const body = JSON.stringify({
    code: 'permission_denied',
    message: `requests from the origin ${origin} are not allowed; an operator adds the web app's origin to CONNECT_CORS_ORIGINS`,
  });
  res.statusCode = 403;
  res.setHeader('content-type', 'application/json');
  res.end(body);
}
