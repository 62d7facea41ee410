import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/** Span-name prefix of the gRPC health service's calls (probes every few seconds, no value). */
const HEALTH_SPAN_PREFIX = 'grpc.grpc.health.v1.Health/';

/** The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name (the spec's six values). */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const arg = Number.parseFloat(env.OTEL_TRACES_SAMPLER_ARG ?? '');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (env.OTEL_TRACES_SAMPLER?.trim()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * The environment's sampler, except that health checks are never recorded. The SDK takes one
 * sampler or builds it from the environment, so the environment is read here (same rules).
 */
export function createSampler(env: NodeJS.ProcessEnv): Sampler {
  const inner = samplerFromEnv(env);
  const drop: SamplingResult = { decision: SamplingDecision.NOT_RECORD };
  return {
    shouldSample(context, traceId, spanName, kind, attributes, links) {
      if (spanName.startsWith(HEALTH_SPAN_PREFIX)) return drop;
      return inner.shouldSample(context, traceId, spanName, kind, attributes, links);
    },
    toString: () => `ExceptHealthChecks{${inner.toString()}}`,
  };
}
