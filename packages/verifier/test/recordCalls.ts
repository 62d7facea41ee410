import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';

/** One call the verifier made to Gatehouse: the method's short name and its request. */
export interface RecordedCall {
  method: string;
  request: unknown;
}

/**
 * A grpc-js client interceptor that records every call the verifier makes (GetJwks,
 * ValidateToken, WatchRevocations), so tests can show what a verify() cost on the wire.
 */
export function recordCalls(): {
  interceptor: Interceptor;
  calls: RecordedCall[];
  count(method: string): number;
} {
  const calls: RecordedCall[] = [];
  const interceptor: Interceptor = (options, nextCall) => {
    const entry: RecordedCall = {
      method: options.method_definition.path.split('/').pop() ?? '',
      request: undefined,
    };
    calls.push(entry);
    return new InterceptingCall(nextCall(options), {
      sendMessage(message, next) {
        entry.request = message;
        next(message);
      },
    });
  };
  return {
    interceptor,
    calls,
    count: (method) => calls.filter((c) => c.method === method).length,
  };
}
