import { type DescMessage, fromBinary } from '@bufbuild/protobuf';
import { type Code, ConnectError } from '@connectrpc/connect';
import type { ServiceError } from '@grpc/grpc-js';
import type { ProtoRegistry } from './protoRegistry.ts';

type OutgoingDetail = { desc: DescMessage; value: Record<string, unknown> };
type AnyMessage = { typeUrl: string; value: Uint8Array };

/**
 * The gRPC status toServiceError made (the one error mapping) as a ConnectError: the same code
 * (Connect's codes are gRPC's numbers), message and google.rpc details — ErrorInfo, BadRequest,
 * RetryInfo — which Connect writes as typed `details` (with a readable `debug` copy in JSON)
 * and gRPC-Web as grpc-status-details-bin. RetryInfo is also sent as `retry-after` (seconds)
 * for plain HTTP clients.
 */
export function createConnectErrors(protos: ProtoRegistry): (error: ServiceError) => ConnectError {
  const statusDesc = protos.message('google.rpc.Status');
  const retryInfo = 'google.rpc.RetryInfo';
  return (error) => {
    const details: OutgoingDetail[] = [];
    const headers = new Headers();
    const bytes = error.metadata.get('grpc-status-details-bin')[0];
    if (bytes instanceof Uint8Array) {
      const status = fromBinary(statusDesc, bytes) as unknown as { details: AnyMessage[] };
      for (const any of status.details) {
        const desc = protos.registry.getMessage(
          any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1),
        );
        if (desc === undefined) continue;
        const value = fromBinary(desc, any.value) as unknown as Record<string, unknown>;
        details.push({ desc, value });
        if (desc.typeName === retryInfo) {
          const delay = value.retryDelay as { seconds: bigint; nanos: number } | undefined;
          const seconds = Number(delay?.seconds ?? 0n) + ((delay?.nanos ?? 0) > 0 ? 1 : 0);
          headers.set('retry-after', String(Math.max(1, seconds)));
        }
      }
    }
    return new ConnectError(error.details, error.code as number as Code, headers, details);
  };
}
