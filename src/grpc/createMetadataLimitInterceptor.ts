import {
  type Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptor,
  ServerListenerBuilder,
  type status,
} from '@grpc/grpc-js';
import { AppError } from '../errors/AppError.ts';
import type { Logger } from '../log.ts';
import { toServiceError } from './toServiceError.ts';

/** Per-entry overhead HTTP/2 counts in a header list's size (RFC 9113, SETTINGS_MAX_HEADER_LIST_SIZE). */
const ENTRY_OVERHEAD = 32;

/**
 * Size of request metadata as HTTP/2 counts a header list: name + value + 32 per entry, binary
 * (`-bin`) values at their base64 length on the wire. grpc-js has already removed the pseudo
 * headers and its own (content-type, te, grpc-timeout, grpc-encoding) by now.
 */
function metadataSize(metadata: Metadata): number {
  let total = 0;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) {
      const length =
        typeof value === 'string' ? Buffer.byteLength(value) : Math.ceil(value.length / 3) * 4;
      total += key.length + length + ENTRY_OVERHEAD;
    }
  }
  return total;
}

/**
 * A server interceptor that refuses a call whose metadata exceeds `maxBytes` with
 * RESOURCE_EXHAUSTED (METADATA_TOO_LARGE) before any handler, our middleware or the health and
 * reflection services read a header. grpc-js does not apply `grpc.max_metadata_size` on the
 * server; Node's HTTP/2 layer only drops a connection at about 64 KiB of headers.
 */
export function createMetadataLimitInterceptor(
  maxBytes: number,
  log: Logger,
  /** Observes each refused call (metrics). */
  onRefused?: (method: string, code: status) => void,
): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(
      call,
      new ResponderBuilder()
        .withStart((next) => {
          next(
            new ServerListenerBuilder()
              .withOnReceiveMetadata((metadata, pass) => {
                const size = metadataSize(metadata);
                if (size <= maxBytes) {
                  pass(metadata);
                  return;
                }
                log.info(
                  { method: method.path, peer: call.getPeer(), metadataBytes: size, maxBytes },
                  'call refused: metadata too large',
                );
                const error = toServiceError(
                  new AppError(
                    'METADATA_TOO_LARGE',
                    `the request metadata is ${size} bytes, more than the ${maxBytes} this server ` +
                      'accepts (names + values + 32 per entry); send fewer or smaller headers',
                    { metadata: { limit_bytes: String(maxBytes), size_bytes: String(size) } },
                  ),
                  log,
                );
                call.sendStatus({
                  code: error.code,
                  details: error.details,
                  metadata: error.metadata,
                });
                onRefused?.(method.path, error.code);
              })
              .build(),
          );
        })
        .build(),
    );
}
