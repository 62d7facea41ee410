import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { AddressCheck } from './createAddressPolicy.ts';

/** One signed POST of an event. */
export interface WebhookRequest {
  url: string;
  /** The event's id: the webhook-id header, the same on every attempt. */
  eventId: string;
  /** The exact body signed and sent. */
  body: string;
  /** whsec_ secrets to sign with: the current one, and the previous during an overlap. */
  secrets: readonly string[];
}

export type WebhookResponse =
  | { ok: true; statusCode: number }
  | { ok: false; statusCode: number | null; error: string };

/** Error of a connection refused by the address rules (before any byte was sent). */
class RefusedAddressError extends Error {}

/**
 * A dns.lookup that hands the socket only addresses the rules allow: every address a name
 * resolves to is checked (one refused address refuses the name, so no answer can slip a
 * private address in), and the socket connects to the addresses that were checked. There is
 * no second resolution to rebind.
 */
function guardedLookup(check: AddressCheck): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const { address } of addresses) {
        const problem = check(address);
        if (problem !== null) {
          return callback(new RefusedAddressError(`${hostname} resolves to ${problem}`), '', 0);
        }
      }
      if (options.all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** Up to this much of a response body is read (and dropped); the rest is not waited for. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one event, signed per Standard Webhooks (webhook-id, webhook-timestamp = now,
 * webhook-signature with one `v1,` signature per secret), to a URL whose addresses pass
 * `check`. Redirects are not followed (a 3xx is a failure), 2xx is success, anything else, a
 * refused address, a timeout or a connection error is a failure. Never throws.
 */
export async function postWebhook(
  req: WebhookRequest,
  options: { check: AddressCheck; timeoutMs: number; signal: AbortSignal; userAgent: string },
): Promise<WebhookResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return { ok: false, statusCode: null, error: 'the endpoint URL is not valid' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    // A literal address is connected to without a lookup: check it here.
    const problem = options.check(host);
    if (problem !== null) return { ok: false, statusCode: null, error: `refused: ${problem}` };
  }
  const now = new Date();
  const signature = req.secrets
    .map((secret) => new Webhook(secret).sign(req.eventId, now, req.body))
    .join(' ');
  const body = Buffer.from(req.body, 'utf8');
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]);
  const requestOptions: RequestOptions = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': options.userAgent,
      'webhook-id': req.eventId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    },
    lookup: guardedLookup(options.check),
    // A fresh connection per attempt: a pooled socket would skip the lookup's check.
    agent: false,
    signal,
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<WebhookResponse>((resolve) => {
    let settled = false;
    const finish = (result: WebhookResponse) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const request = send(url, requestOptions, (res) => {
      const statusCode = res.statusCode ?? 0;
      let read = 0;
      const done = () => {
        if (statusCode >= 200 && statusCode < 300) finish({ ok: true, statusCode });
        else if (statusCode >= 300 && statusCode < 400) {
          finish({
            ok: false,
            statusCode,
            error: `HTTP ${statusCode}: redirects are not followed`,
          });
        } else finish({ ok: false, statusCode, error: `HTTP ${statusCode}` });
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) done();
      });
      res.on('end', done);
      res.on('error', done);
    });
    request.on('error', (err) => {
      const error =
        err instanceof RefusedAddressError
          ? `refused: ${err.message}`
          : signal.aborted && options.signal.aborted
            ? 'stopped: the server is shutting down'
            : signal.aborted
              ? `no answer within ${options.timeoutMs} ms`
              : `connection failed: ${err.message}`;
      finish({ ok: false, statusCode: null, error });
    });
    request.end(body);
  });
}
