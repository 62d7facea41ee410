import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { Any } from '../gen/google/protobuf/any.ts';
import { BadRequest, ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details.ts';
import { Status } from '../gen/google/rpc/status.ts';

// google.rpc.Status and its details, encoded with the code generated from googleapis'
// google/rpc/status.proto and error_details.proto (the same files reflection serves, so
// `buf curl` and other clients decode the details by name).

const typeUrl = (name: string) => `type.googleapis.com/${name}`;
const ERROR_INFO = typeUrl('google.rpc.ErrorInfo');
const BAD_REQUEST = typeUrl('google.rpc.BadRequest');
const RETRY_INFO = typeUrl('google.rpc.RetryInfo');
const bytes = (writer: BinaryWriter) => Buffer.from(writer.finish());

export interface RpcErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}
export interface BadRequestViolation {
  field: string;
  description: string;
  reason: string;
}
/** The parts of a google.rpc.Status Gatehouse sends (one ErrorInfo, BadRequest, RetryInfo). */
export interface RpcStatus {
  code: number;
  message: string;
  errorInfo?: RpcErrorInfo;
  retryDelayMs?: number;
  fieldViolations?: BadRequestViolation[];
}

/** Serialises a google.rpc.Status for the grpc-status-details-bin trailer. */
export function encodeRpcStatus(status: RpcStatus): Buffer {
  const details: Any[] = [];
  if (status.errorInfo) {
    details.push({ typeUrl: ERROR_INFO, value: bytes(ErrorInfo.encode(status.errorInfo)) });
  }
  if (status.fieldViolations && status.fieldViolations.length > 0) {
    details.push({
      typeUrl: BAD_REQUEST,
      value: bytes(BadRequest.encode({ fieldViolations: status.fieldViolations })),
    });
  }
  if (status.retryDelayMs !== undefined) {
    const ms = Math.max(0, Math.ceil(status.retryDelayMs));
    details.push({
      typeUrl: RETRY_INFO,
      value: bytes(
        RetryInfo.encode({
          retryDelay: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
        }),
      ),
    });
  }
  return bytes(Status.encode({ code: status.code, message: status.message, details }));
}

/** Parses a grpc-status-details-bin value (used by tests and clients written in TypeScript). */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const raw = Status.decode(bytes);
  const result: RpcStatus = { code: raw.code, message: raw.message };
  for (const any of raw.details) {
    if (any.typeUrl === ERROR_INFO) {
      const { reason, domain, metadata } = ErrorInfo.decode(any.value);
      result.errorInfo = { reason, domain, metadata };
    } else if (any.typeUrl === BAD_REQUEST) {
      result.fieldViolations = BadRequest.decode(any.value).fieldViolations.map(
        ({ field, description, reason }) => ({ field, description, reason }),
      );
    } else if (any.typeUrl === RETRY_INFO) {
      const delay = RetryInfo.decode(any.value).retryDelay ?? { seconds: '0', nanos: 0 };
      result.retryDelayMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
    }
  }
  return result;
}
