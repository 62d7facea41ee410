import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReflectionService } from '@grpc/reflection';
import { createReflectionService } from './createReflectionService.ts';
import { loadPackageDefinition } from './loadPackageDefinition.ts';

type Index = { files: Record<string, { sourceCodeInfo?: unknown }> };

/** The decoded files of both protocol versions that still hold comments, of what were decoded. */
function decodedComments(service: ReflectionService): { commented: number; files: number } {
  const versions = service as unknown as { v1: Index; v1Alpha: Index };
  const files = [versions.v1, versions.v1Alpha].flatMap((v) => Object.values(v.files));
  return { commented: files.filter((f) => f.sourceCodeInfo != null).length, files: files.length };
}

describe('createReflectionService', () => {
  it('keeps no decoded comments, where @grpc/reflection alone keeps them for every file', () => {
    const pkg = loadPackageDefinition();
    const plain = decodedComments(new ReflectionService(pkg));
    // If this fails after an upgrade, @grpc/reflection no longer keeps what the function drops:
    // check whether it is still needed.
    assert.ok(plain.commented > 50, `plain @grpc/reflection: ${JSON.stringify(plain)}`);
    const ours = decodedComments(createReflectionService(pkg));
    assert.deepEqual(ours, { commented: 0, files: plain.files });
  });
});
