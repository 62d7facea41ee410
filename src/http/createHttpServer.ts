import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HttpDeps {
  jwks(): { json: string; etag: string };
  ready(): { ok: boolean; dependencies: Record<string, boolean> };
  metrics: Registry;
  /** Seconds verifiers may cache the JWKS. */
  jwksMaxAgeSec: number;
}

/** Plain HTTP side port: liveness, readiness, the JWKS for local verifiers, and /metrics. */
export function createHttpServer(deps: HttpDeps): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = deps.ready();
      res
        .writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ ready: r.ok, dependencies: r.dependencies })}\n`);
    } else if (path === '/.well-known/jwks.json') {
      const { json, etag } = deps.jwks();
      const headers = {
        'content-type': 'application/jwk-set+json',
        'cache-control': `public, max-age=${deps.jwksMaxAgeSec}`,
        etag,
      };
      if (req.headers['if-none-match'] === etag) res.writeHead(304, headers).end();
      else res.writeHead(200, headers).end(json);
    } else if (path === '/metrics') {
      deps.metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': deps.metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
