import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from './serviceRuntime.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('the service is started the same way everywhere', () => {
  it('package.json start runs node with the service flags and environment', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts
      .start;
    const env = Object.entries(SERVICE_ENV)
      .map(([name, value]) => `${name}=\${${name}:-${value}}`)
      .join(' ');
    assert.equal(start, `${env} exec node ${SERVICE_NODE_FLAGS.join(' ')} src/main.ts`);
  });

  it('the Dockerfile runs node with the same flags and environment', () => {
    const dockerfile = read('Dockerfile');
    const cmd = JSON.stringify(['node', ...SERVICE_NODE_FLAGS, 'src/main.ts']).replaceAll(
      '","',
      '", "',
    );
    assert.ok(dockerfile.split('\n').includes(`CMD ${cmd}`), `Dockerfile: CMD ${cmd}`);
    for (const [name, value] of Object.entries(SERVICE_ENV)) {
      assert.match(dockerfile, new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
    }
  });
});
