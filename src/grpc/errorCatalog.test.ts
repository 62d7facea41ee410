import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ErrorReason } from '../gen/gatehouse/errors/v1/error_reason.ts';
import { errorCatalog } from './errorCatalog.ts';

const NOT_REASONS = new Set(['ERROR_REASON_UNSPECIFIED', 'UNRECOGNIZED']);
const enumReasons = Object.keys(ErrorReason).filter((name) => !NOT_REASONS.has(name));
const readProto = (path: string) =>
  readFileSync(new URL(`../../proto/${path}`, import.meta.url), 'utf8');
const codeName = (code: number) => Object.entries(status).find(([, c]) => c === code)?.[0];

describe('errorCatalog', () => {
  it('has an entry for every ErrorReason value, and no other', () => {
    assert.deepEqual(Object.keys(errorCatalog).sort(), [...enumReasons].sort());
  });

  it('maps each reason to the gRPC code its proto comment names', () => {
    const proto = readProto('gatehouse/errors/v1/error_reason.proto');
    const documented = new Map<string, string>();
    for (const [, code, name] of proto.matchAll(
      /\/\/ gRPC code: ([A-Z_]+)\.\n\s*([A-Z_]+) = \d+;/g,
    )) {
      documented.set(name as string, code as string);
    }
    assert.deepEqual([...documented.keys()].sort(), [...enumReasons].sort());
    for (const [reason, code] of Object.entries(errorCatalog)) {
      assert.equal(codeName(code), documented.get(reason), reason);
    }
  });

  it('the service protos name no reason the enum lacks', () => {
    for (const path of [
      'gatehouse/auth/v1/auth_service.proto',
      'gatehouse/admin/v1/user_admin_service.proto',
      'gatehouse/admin/v1/service_account_admin_service.proto',
    ]) {
      const comments = readProto(path)
        .split('\n')
        .filter((line) => line.trim().startsWith('//'))
        .map((line) => line.trim().replace(/^\/\/\s*/, ''))
        .join(' ');
      for (const [, name] of comments.matchAll(/\breasons? \(?([A-Z][A-Z_]+)\b/g)) {
        assert.ok(enumReasons.includes(name as string), `${path} names reason ${name}`);
      }
    }
  });
});
