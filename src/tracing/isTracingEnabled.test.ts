import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTracingEnabled } from './isTracingEnabled.ts';

const endpoint = 'http://collector:4318';

describe('isTracingEnabled', () => {
  it('is off with no OTLP endpoint, whatever else is set', () => {
    assert.equal(isTracingEnabled({}), false);
    assert.equal(
      isTracingEnabled({ OTEL_SERVICE_NAME: 'gatehouse', OTEL_TRACES_SAMPLER: 'always_on' }),
      false,
    );
    assert.equal(isTracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }), false);
  });

  it('is on with either endpoint variable', () => {
    assert.equal(isTracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }), true);
    assert.equal(
      isTracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` }),
      true,
    );
  });

  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off', () => {
    assert.equal(
      isTracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'TRUE' }),
      false,
    );
    assert.equal(
      isTracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'false' }),
      true,
    );
    assert.equal(
      isTracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: 'none' }),
      false,
    );
  });
});
