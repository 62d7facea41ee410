import type { StatusObject } from '@grpc/grpc-js';
import { ErrorInfo } from './gen/google/rpc/error_details.ts';
import { Status } from './gen/google/rpc/status.ts';

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';

/**
 * The google.rpc.ErrorInfo of a Gatehouse error (its `reason` and metadata), read from the
 * `grpc-status-details-bin` trailer; null when there is none or it cannot be decoded.
 */
export function errorInfoOf(status: Pick<StatusObject, 'metadata'>): ErrorInfo | null {
  const raw = status.metadata?.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(raw)) return null;
  try {
    const detail = Status.decode(raw).details.find((d) => d.typeUrl === ERROR_INFO);
    return detail === undefined ? null : ErrorInfo.decode(detail.value);
  } catch {
    return null;
  }
}
