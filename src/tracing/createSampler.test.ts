import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { createSampler, samplerFromEnv } from './createSampler.ts';

const traceId = '0af7651916cd43dd8448eb211c80319c';
const decide = (env: NodeJS.ProcessEnv, name: string) =>
  createSampler(env).shouldSample(ROOT_CONTEXT, traceId, name, SpanKind.SERVER, {}, []).decision;

describe('createSampler', () => {
  it('records RPCs and drops health checks', () => {
    assert.equal(
      decide({}, 'grpc.gatehouse.auth.v1.AuthService/Login'),
      SamplingDecision.RECORD_AND_SAMPLED,
    );
    assert.equal(decide({}, 'grpc.grpc.health.v1.Health/Check'), SamplingDecision.NOT_RECORD);
    assert.equal(decide({}, 'grpc.grpc.health.v1.Health/Watch'), SamplingDecision.NOT_RECORD);
  });

  it('follows OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', () => {
    const login = 'grpc.gatehouse.auth.v1.AuthService/Login';
    assert.equal(decide({ OTEL_TRACES_SAMPLER: 'always_off' }, login), SamplingDecision.NOT_RECORD);
    assert.equal(
      decide({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }, login),
      SamplingDecision.NOT_RECORD,
    );
    assert.match(samplerFromEnv({}).toString(), /ParentBased\{root=AlwaysOnSampler/);
    assert.match(
      samplerFromEnv({
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).toString(),
      /TraceIdRatioBased\{0\.25\}/,
    );
  });
});
