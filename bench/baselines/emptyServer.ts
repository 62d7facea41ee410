/**
 * Baseline server: a bare grpc-js server with one unary method that answers an empty message,
 * nothing else (no interceptors, no logging, no protobuf: identity serializers). Run as its own
 * process by bench/run.ts (child_process.fork); it reports its port over IPC and exits when
 * the orchestrator disconnects. Same grpc-js version and HTTP/2 settings as Gatehouse.
 */
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

export const EMPTY_RPC_PATH = '/bench.v1.Empty/Call';

const identity = (b: Buffer) => b;
const EMPTY = Buffer.alloc(0);

const definition: ServiceDefinition = {
  Call: {
    path: EMPTY_RPC_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function main(): Promise<void> {
  // The transport options of src/app.ts that can matter for unary throughput.
  const server = new Server({
    'grpc.max_receive_message_length': 64 * 1024,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
    'grpc.max_concurrent_streams': 1000,
  });
  server.addService(definition, {
    Call: (_call: unknown, callback: (err: null, value: Buffer) => void) => callback(null, EMPTY),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  process.on('disconnect', () => {
    server.forceShutdown();
    process.exit(0);
  });
  process.send?.({ type: 'listening', port });
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`empty server: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
