import { DiagLogLevel, diag } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { createSampler } from './createSampler.ts';
import type { createInstrumentations } from './instrumentations.ts';
import type { Tracing } from './startTracing.ts';
import { traceLogFields } from './traceLogFields.ts';

/**
 * Starts the OpenTelemetry SDK: traces only (metrics stay on /metrics, logs on stdout), the
 * exporter, batching and limits from the standard OTEL_* variables, service.name `gatehouse`
 * unless OTEL_SERVICE_NAME says otherwise.
 */
export function startTracingSdk(
  env: NodeJS.ProcessEnv,
  instrumentations: ReturnType<typeof createInstrumentations>,
): Tracing {
  const sdk = new NodeSDK({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'gatehouse' })),
    instrumentations,
    sampler: createSampler(env),
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    logFields: traceLogFields,
    reportTo(log) {
      // OTEL_LOG_LEVEL set: the SDK already writes its diagnostics to the console at that level.
      if (env.OTEL_LOG_LEVEL !== undefined) return;
      const sdkLog = log.child({ component: 'opentelemetry' });
      diag.setLogger(
        {
          error: (message) => sdkLog.error(message),
          warn: (message) => sdkLog.warn(message),
          info: () => {},
          debug: () => {},
          verbose: () => {},
        },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      );
    },
    async shutdown(timeoutMs = 5000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([sdk.shutdown().catch(() => {}), timeout]);
      clearTimeout(timer);
    },
  };
}
