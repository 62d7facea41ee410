import assert from 'node:assert/strict';
import { type ServiceError, status } from '@grpc/grpc-js';
import { decodeRpcStatus, type RpcStatus } from '../../src/grpc/rpcStatus.ts';

/** Decodes the google.rpc.Status a Gatehouse error carries (fails the test if it has none). */
export function rpcStatus(error: unknown): RpcStatus & { grpcCode: number; raw: Buffer } {
  const err = error as ServiceError;
  assert.ok(err && typeof err.code === 'number', `expected a gRPC error, got ${String(error)}`);
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  assert.ok(Buffer.isBuffer(raw), `status ${status[err.code]} carries no grpc-status-details-bin`);
  const decoded = decodeRpcStatus(raw);
  assert.equal(decoded.code, err.code, 'google.rpc.Status code matches the gRPC status');
  assert.equal(decoded.errorInfo?.domain, 'gatehouse');
  return { ...decoded, grpcCode: err.code, raw };
}

/** Awaits a call that must fail with `code` and ErrorInfo `reason`; returns the decoded status. */
export async function expectRpcError(
  promise: Promise<unknown>,
  code: status,
  reason: string,
): Promise<RpcStatus & { grpcCode: number; raw: Buffer }> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `expected ${status[code]} ${reason}, but the call succeeded`);
  const s = rpcStatus(error);
  assert.equal(status[s.grpcCode], status[code], `status code (message: ${s.message})`);
  assert.equal(s.errorInfo?.reason, reason);
  return s;
}
