/**
 * Raw argon2 loops: what Login and Register cannot beat. They run in the load-generator process,
 * which bench/run.ts starts with the server's UV_THREADPOOL_SIZE, so the same number of libuv
 * threads hash with the same parameters at the same concurrency. The password is NFKC-normalised
 * first, as the server's hasher does.
 */
import argon2 from 'argon2';
import { OpError } from '../lib/grpcUnary.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from '../workloads/Workload.ts';

export function argon2VerifyWorkload(
  spec: Extract<WorkloadSpec, { kind: 'argon2-verify' }>,
): Workload {
  return {
    async op() {
      if (!(await argon2.verify(spec.hash, spec.password.normalize('NFKC')))) {
        throw new OpError('MISMATCH', 'argon2.verify returned false');
      }
      return undefined;
    },
    close() {},
  };
}

export function argon2HashWorkload(spec: Extract<WorkloadSpec, { kind: 'argon2-hash' }>): Workload {
  const options = { type: argon2.argon2id, ...spec.params } as const;
  return {
    async op() {
      await argon2.hash(spec.password.normalize('NFKC'), options);
      return undefined;
    },
    close() {},
  };
}
