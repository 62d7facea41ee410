import { status } from '@grpc/grpc-js';
import type { CheckedHttpRequest, CheckOutcome, ExtAuthz } from '../extAuthz/createExtAuthz.ts';
import type { CallContext } from '../policy/CallContext.ts';
import {
  type CheckRequestMessage,
  type CheckResponseMessage,
  type HeaderValueOptionMessage,
  mapEntries,
} from './envoyAuthorization.ts';

// Envoy's headers and context_extensions are maps a client (or a route) fills: bounded here so
// a huge request costs no more than the metadata limit lets through anyway.
const MAX_HEADERS = 256;

/** The checked HTTP request of a CheckRequest: headers by lower-case name (either encoding). */
function toCheckedRequest(req: CheckRequestMessage): CheckedHttpRequest {
  const attributes = req.attributes;
  const http = attributes?.request?.http;
  const headers = new Map<string, string>();
  const add = (key: string, value: string) => {
    const name = key.toLowerCase();
    if (headers.size >= MAX_HEADERS && !headers.has(name)) return;
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before},${value}`);
  };
  for (const [key, value] of mapEntries(http?.headers)) add(key, value);
  for (const h of http?.header_map?.headers ?? []) {
    if (h.key === undefined) continue;
    add(h.key, h.raw_value !== undefined ? h.raw_value.toString('utf8') : (h.value ?? ''));
  }
  return {
    headers,
    sourceAddress: attributes?.source?.address?.socket_address?.address ?? null,
    contextExtensions: new Map(mapEntries(attributes?.context_extensions)),
  };
}

const overwrite = (name: string, value: string): HeaderValueOptionMessage => ({
  header: { key: name, value },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

const DENIED_CODE = {
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  429: status.RESOURCE_EXHAUSTED,
};

function toResponse(outcome: CheckOutcome): CheckResponseMessage {
  if (outcome.kind === 'allowed') {
    return {
      status: { code: status.OK },
      ok_response: {
        headers: outcome.setHeaders.map((h) => overwrite(h.name, h.value)),
        headers_to_remove: outcome.removeHeaders,
      },
    };
  }
  const { http } = outcome;
  return {
    status: { code: DENIED_CODE[http.status] },
    denied_response: {
      status: { code: http.status },
      headers: http.headers.map((h) => overwrite(h.name, h.value)),
      body: http.body,
    },
  };
}

/**
 * envoy.service.auth.v3.Authorization transport: the CheckRequest's HTTP request to a checked
 * request, the decision back to a CheckResponse (OK with headers, or a denied HTTP response).
 * Who may call is the call policy's and the use case's.
 */
export function createExtAuthzHandlers(extAuthz: ExtAuthz): {
  Check(req: unknown, ctx: CallContext): Promise<CheckResponseMessage>;
} {
  return {
    async Check(req, ctx) {
      const outcome = await extAuthz.check(
        ctx.principal,
        toCheckedRequest(req as CheckRequestMessage),
        ctx.info,
      );
      return toResponse(outcome);
    },
  };
}
