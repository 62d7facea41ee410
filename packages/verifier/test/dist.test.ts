import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const root = new URL('..', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  exports: { '.': { types: string; default: string } };
};

// What a service gets from `npm install @gatehouse/verifier`: the compiled build (`npm run
// build -w @gatehouse/verifier`, which the root `npm test` runs first), not the TypeScript.
describe('the built package', () => {
  it('ships the JavaScript and declarations its exports name', () => {
    for (const file of [manifest.exports['.'].default, manifest.exports['.'].types]) {
      assert.ok(existsSync(new URL(file, root)), `${file} exists (run the build first)`);
    }
    const types = readFileSync(new URL(manifest.exports['.'].types, root), 'utf8');
    assert.match(types, /createVerifier/);
  });

  it('is importable by its name and exports the API', async () => {
    const pkg = await import('@gatehouse/verifier');
    assert.equal(typeof pkg.createVerifier, 'function');
    const error = new pkg.VerifierError('TOKEN_REVOKED', 'x');
    assert.ok(pkg.isVerifierError(error, 'TOKEN_REVOKED'));
    assert.equal(pkg.RevocationReason.REVOCATION_REASON_LOGOUT, 1);
  });
});

describe('the README', () => {
  it('shows the example that typechecks, verbatim', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const example = readFileSync(new URL('examples/resourceServer.ts', root), 'utf8');
    assert.ok(readme.includes(example), 'README.md embeds examples/resourceServer.ts unchanged');
  });
});
