/**
 * Tracing's entry point, the first thing src/main.ts runs. With no OTLP endpoint configured it
 * returns undefined having loaded nothing of OpenTelemetry. Otherwise it installs the ESM loader
 * hook for the instrumented modules, starts the SDK and returns what the rest of the process
 * needs; main.ts imports the application only after that, so grpc-js, pg and ioredis are
 * patched when they load (an instrumentation cannot patch a module loaded before it).
 */
import type { Logger } from '../log.ts';
import { isTracingEnabled } from './isTracingEnabled.ts';

export interface Tracing {
  /** pino mixin adding trace_id and span_id to lines logged inside a span. */
  logFields: () => object;
  /** Sends the SDK's own warnings and errors (a collector that cannot be reached) to `log`. */
  reportTo(log: Logger): void;
  /** Exports what is still buffered, waiting at most `timeoutMs`. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Starts tracing when the environment configures it (see isTracingEnabled). */
export async function startTracing(env: NodeJS.ProcessEnv): Promise<Tracing | undefined> {
  if (!isTracingEnabled(env)) return undefined;
  const { INSTRUMENTED_MODULES, createInstrumentations } = await import('./instrumentations.ts');
  await registerImportHook(INSTRUMENTED_MODULES);
  // Enabled (hooks in place) before the SDK is imported: its OTLP gRPC exporter loads grpc-js.
  const instrumentations = createInstrumentations();
  const { startTracingSdk } = await import('./startTracingSdk.ts');
  return startTracingSdk(env, instrumentations);
}

/**
 * import-in-the-middle's hook, limited to `modules`: ESM `import`s of them (CommonJS packages
 * included) are what the instrumentations see. In-thread (module.registerHooks) where this
 * Node supports it, else the loader-thread hook.
 */
async function registerImportHook(modules: readonly string[]): Promise<void> {
  const hooks = await import('import-in-the-middle/register-hooks.mjs');
  if (hooks.supportsSyncHooks()) {
    hooks.register({ include: [...modules] });
    return;
  }
  const { register } = await import('node:module');
  register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: [...modules] } });
}
