/**
 * Load-generator side of the verify scenario: @gatehouse/verifier in this process, following
 * the benchmarked Gatehouse (JWKS, revocation stream), answering verify() locally.
 */
import { credentials } from '@grpc/grpc-js';
import { createVerifier } from '../../packages/verifier/src/index.ts';
import { OpError } from '../lib/grpcUnary.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import type { Workload } from './Workload.ts';

export async function verifierWorkload(
  spec: Extract<WorkloadSpec, { kind: 'verifier-verify' }>,
): Promise<Workload> {
  if (spec.tokens.length === 0) throw new Error('verifier-verify needs at least one token');
  const verifier = createVerifier({
    target: spec.target,
    credentials: { apiKey: spec.watcherKey, channel: credentials.createInsecure() },
  });
  await verifier.ready();
  let next = 0;
  return {
    async op() {
      const token = spec.tokens[next++ % spec.tokens.length] as string;
      let identity: Awaited<ReturnType<typeof verifier.verify>>;
      try {
        identity = await verifier.verify(token);
      } catch (error) {
        throw new OpError((error as { code?: string }).code ?? 'ERROR', (error as Error).message);
      }
      if (identity.kind !== 'user') throw new OpError('WRONG_KIND', `verified as ${identity.kind}`);
      return undefined;
    },
    close: () => verifier.close(),
    stats() {
      const s = verifier.status();
      return { jwksFetches: s.jwksFetches, cachedTokens: s.cachedTokens };
    },
  };
}
