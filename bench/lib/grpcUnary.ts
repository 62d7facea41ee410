import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';

const identity = (b: Buffer) => b;
const DEADLINE_MS = 60_000;

/** An error of one operation, with a short code for the error table ('UNAVAILABLE', ...). */
export class OpError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Thrown by an operation when its worker cannot go on (e.g. its refresh chain broke). */
export class StopWorker extends OpError {}

/**
 * Unary calls with pre-encoded request bytes over `channels` separate HTTP/2 connections
 * (grpc-js shares one connection per target unless each client has its own subchannel pool).
 * Requests and responses are raw protobuf bytes, so the Gatehouse scenarios and the empty-RPC
 * baseline pay exactly the same client-side transport cost.
 */
export class UnaryCaller {
  readonly #clients: Client[];

  /**
   * `target` may list several servers, `ipv4:127.0.0.1:<port>,127.0.0.1:<port>`: each channel
   * then connects to all of them and sends its calls round-robin (grpc-js's round_robin policy,
   * as a client-side balancer would).
   */
  constructor(target: string, channels: number) {
    const balanced = target.includes(',')
      ? { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) }
      : {};
    this.#clients = Array.from(
      { length: Math.max(1, channels) },
      () =>
        new Client(target, credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
          'grpc.max_receive_message_length': 16 * 1024 * 1024,
          'grpc.primary_user_agent': 'gatehouse-bench',
          ...balanced,
        }),
    );
  }

  /** Connects every channel (so the first measured calls do not pay for TCP + HTTP/2 setup). */
  async connect(timeoutMs = 10_000): Promise<void> {
    await Promise.all(
      this.#clients.map(
        (c) =>
          new Promise<void>((resolve, reject) =>
            c.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())),
          ),
      ),
    );
  }

  /** One call on the channel of `worker`; `headers` become request metadata. */
  call(
    worker: number,
    path: string,
    request: Buffer,
    headers?: Record<string, string>,
  ): Promise<Buffer> {
    const client = this.#clients[worker % this.#clients.length] as Client;
    const md = new Metadata();
    if (headers) for (const [k, v] of Object.entries(headers)) md.set(k, v);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        identity,
        identity,
        request,
        md,
        { deadline: Date.now() + DEADLINE_MS },
        (err: ServiceError | null, value?: Buffer) => {
          if (err)
            reject(new OpError(status[err.code] ?? String(err.code), err.details || err.message));
          else resolve(value ?? Buffer.alloc(0));
        },
      );
    });
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}
