import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ImportFailure, importErrorReason } from './importErrorReason.ts';

describe('importErrorReason', () => {
  it('maps each failure to the ImportUserResult.error_reason the admin proto documents', () => {
    const cases: [ImportFailure, string][] = [
      [{ reason: 'EMAIL_TAKEN' }, 'ALREADY_EXISTS'],
      [{ reason: 'USERNAME_TAKEN' }, 'ALREADY_EXISTS'],
      [{ reason: 'VALIDATION_FAILED', field: 'email' }, 'INVALID_EMAIL'],
      [{ reason: 'VALIDATION_FAILED', field: 'username' }, 'INVALID_USERNAME'],
      [{ reason: 'VALIDATION_FAILED', field: 'roles' }, 'INVALID_ROLE'],
      [{ reason: 'VALIDATION_FAILED', field: 'password_hash' }, 'INVALID_HASH'],
      [{ reason: 'VALIDATION_FAILED', field: 'display_name' }, 'VALIDATION_FAILED'],
      [{ reason: 'VALIDATION_FAILED', field: 'external_id' }, 'VALIDATION_FAILED'],
      [{ reason: 'VALIDATION_FAILED', field: 'created_at' }, 'VALIDATION_FAILED'],
    ];
    for (const [failure, wire] of cases) {
      assert.equal(importErrorReason(failure), wire, JSON.stringify(failure));
    }
  });

  it('maps each failure to the ImportApiKeyResult.error_reason the service account proto documents', () => {
    const cases: [ImportFailure, string][] = [
      [{ reason: 'API_KEY_SECRET_TAKEN' }, 'ALREADY_EXISTS'],
      [{ reason: 'USER_NOT_FOUND' }, 'USER_NOT_FOUND'],
      [{ reason: 'SERVICE_ACCOUNT_NOT_FOUND' }, 'SERVICE_ACCOUNT_NOT_FOUND'],
      [{ reason: 'API_KEY_LIMIT_REACHED' }, 'API_KEY_LIMIT_REACHED'],
      [{ reason: 'VALIDATION_FAILED', field: 'secret' }, 'INVALID_SECRET'],
      [{ reason: 'VALIDATION_FAILED', field: 'secret_sha256' }, 'INVALID_SECRET'],
      [{ reason: 'VALIDATION_FAILED', field: 'user_email' }, 'INVALID_EMAIL'],
      [{ reason: 'VALIDATION_FAILED', field: 'roles' }, 'INVALID_ROLE'],
      [{ reason: 'VALIDATION_FAILED', field: 'owner' }, 'VALIDATION_FAILED'],
      [{ reason: 'VALIDATION_FAILED', field: 'display_name' }, 'VALIDATION_FAILED'],
    ];
    for (const [failure, wire] of cases) {
      assert.equal(importErrorReason(failure), wire, JSON.stringify(failure));
    }
  });
});
