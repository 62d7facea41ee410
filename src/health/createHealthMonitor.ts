import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../log.ts';

export type DependencyName = 'postgres' | 'redis';

export interface DependencyProbe {
  name: DependencyName;
  /** Resolves when the dependency answers; rejects (or times out) otherwise. */
  check(): Promise<void>;
}

export interface HealthMonitor {
  health: HealthImplementation;
  start(): Promise<void>;
  /** Marks everything NOT_SERVING for good (drain on shutdown). */
  shutdown(): void;
  /** Stops probing; resolves once a probe in flight has finished (before the pool closes). */
  stop(): Promise<void>;
  /** Dependency name -> reachable, as of the last probe. */
  snapshot(): Record<string, boolean>;
  serving(): boolean;
}

/**
 * Probes PostgreSQL and Redis every `intervalMs` and publishes grpc.health.v1 statuses: "" and each
 * API service are SERVING only while every dependency answers (as the foundation issue asks);
 * "gatehouse.postgres" / "gatehouse.redis" say which one is down. Calls are still served while
 * Redis is down (limits and the session cache degrade to in-process / PostgreSQL).
 */
export function createHealthMonitor(
  services: string[],
  probes: DependencyProbe[],
  log: Logger,
  intervalMs = 2000,
  probeTimeoutMs = 1500,
): HealthMonitor {
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  const state: Record<string, boolean> = {};
  let draining = false;
  let timer: NodeJS.Timeout | undefined;
  let probing: Promise<void> | undefined;

  const publish = () => {
    const ok = !draining && probes.every((p) => state[p.name] === true);
    const status = ok ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', status);
    for (const s of services) health.setStatus(s, status);
    for (const p of probes) {
      health.setStatus(`gatehouse.${p.name}`, state[p.name] ? 'SERVING' : 'NOT_SERVING');
    }
  };

  const probeAll = async () => {
    await Promise.all(
      probes.map(async (p) => {
        let timeout: NodeJS.Timeout | undefined;
        const ok = await Promise.race([
          p.check().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((resolve) => {
            timeout = setTimeout(() => resolve(false), probeTimeoutMs);
          }),
        ]);
        clearTimeout(timeout);
        if (state[p.name] !== ok && state[p.name] !== undefined) {
          if (ok) log.info({ dependency: p.name }, 'dependency reachable again');
          else log.error({ dependency: p.name }, 'dependency unreachable');
        }
        state[p.name] = ok;
      }),
    );
    publish();
  };

  return {
    health,
    async start() {
      await probeAll();
      timer = setInterval(() => {
        probing ??= probeAll().finally(() => {
          probing = undefined;
        });
      }, intervalMs);
      timer.unref();
    },
    shutdown() {
      draining = true;
      publish();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await probing;
    },
    snapshot: () => ({ ...state }),
    serving: () => !draining && probes.every((p) => state[p.name] === true),
  };
}
