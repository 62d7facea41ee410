import { UnaryCaller } from '../lib/grpcUnary.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from '../workloads/Workload.ts';

const EMPTY = Buffer.alloc(0);

/** The empty unary RPC on the bare server: the floor of what any unary gRPC call costs here. */
export async function emptyRpcWorkload(
  spec: Extract<WorkloadSpec, { kind: 'grpc-empty' }>,
  channels: number,
): Promise<Workload> {
  const caller = new UnaryCaller(spec.target, channels);
  await caller.connect();
  return {
    async op(worker) {
      await caller.call(worker, spec.path, EMPTY);
      return undefined;
    },
    close: () => caller.close(),
  };
}
