import { credentials, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

type CheckFn = (
  req: { service: string },
  metadata: Metadata,
  cb: (err: ServiceError | null, res: { status: string }) => void,
) => void;

/** A grpc.health.v1 client built from the health proto shipped with grpc-health-check. */
export class HealthClient {
  readonly #client: { Check: CheckFn; close(): void };
  constructor(target: string) {
    const pkg = loadPackageDefinition(loadSync(protoPath, { enums: String })) as unknown as {
      grpc: {
        health: {
          v1: { Health: new (t: string, c: unknown) => { Check: CheckFn; close(): void } };
        };
      };
    };
    this.#client = new pkg.grpc.health.v1.Health(target, credentials.createInsecure());
  }
  check(service: string, metadata: Metadata = new Metadata()): Promise<string> {
    return new Promise((resolve, reject) =>
      this.#client.Check({ service }, metadata, (err, res) =>
        err ? reject(err) : resolve(res.status),
      ),
    );
  }
  close(): void {
    this.#client.close();
  }
}
