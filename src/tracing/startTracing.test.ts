import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs startTracing in a fresh Node with `env` and answers which OpenTelemetry packages were
 * imported (a resolve hook records every module), and whether it returned a Tracing.
 */
async function importsOf(
  env: Record<string, string>,
): Promise<{ started: boolean; otel: string[] }> {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const m = /@opentelemetry\\/[^/]+|import-in-the-middle/.exec(specifier);
        if (m) seen.add(m[0]);
        return next(specifier, context);
      },
    });
    const { startTracing } = await import('./src/tracing/startTracing.ts');
    const tracing = await startTracing(process.env);
    await tracing?.shutdown(1000);
    process.stdout.write(JSON.stringify({ started: tracing !== undefined, otel: [...seen].sort() }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url),
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return JSON.parse(stdout) as { started: boolean; otel: string[] };
}

describe('startTracing', () => {
  it('loads nothing of OpenTelemetry when no endpoint is configured', async () => {
    assert.deepEqual(await importsOf({}), { started: false, otel: [] });
    assert.deepEqual(
      await importsOf({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_SDK_DISABLED: 'true',
      }),
      { started: false, otel: [] },
    );
  });

  it('starts the SDK with the three instrumentations when an endpoint is configured', async () => {
    const { started, otel } = await importsOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    });
    assert.equal(started, true);
    for (const name of [
      '@opentelemetry/sdk-node',
      '@opentelemetry/instrumentation-grpc',
      '@opentelemetry/instrumentation-pg',
      '@opentelemetry/instrumentation-ioredis',
      'import-in-the-middle',
    ]) {
      assert.ok(otel.includes(name), `${name} imported (got ${otel.join(', ')})`);
    }
  });
});
