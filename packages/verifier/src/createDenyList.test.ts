import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDenyList, type Revocation, type TokenFacts } from './createDenyList.ts';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const HOUR = 3_600_000;

const revocation = (r: Partial<Revocation>): Revocation => ({
  scope: 'unspecified',
  sessionId: '',
  userId: '',
  apiKeyId: '',
  organizationId: '',
  serviceAccountId: '',
  revokeTimeMs: T0,
  ...r,
});
const token = (t: Partial<TokenFacts>): TokenFacts => ({
  subject: 'user-a',
  sessionId: null,
  apiKeyId: null,
  organizationId: null,
  issuedAtSec: T0 / 1000 - 60,
  ...t,
});

describe('createDenyList', () => {
  const list = () => createDenyList({ tokenLifetimeMs: () => HOUR, slackMs: 1000 });

  it('SESSION denies the tokens of that session only, whenever they were issued', () => {
    const d = list();
    d.add(revocation({ scope: 'session', sessionId: 's1', userId: 'user-a' }));
    assert.equal(d.denies(token({ sessionId: 's1' })), true);
    assert.equal(d.denies(token({ sessionId: 's1', issuedAtSec: T0 / 1000 + 600 })), true);
    assert.equal(d.denies(token({ sessionId: 's2' })), false, 'another session of the user');
  });

  it('USER denies tokens issued up to the revocation (with the slack), not later ones', () => {
    const d = list();
    d.add(revocation({ scope: 'user', userId: 'user-a' }));
    assert.equal(d.denies(token({ sessionId: 's1' })), true);
    assert.equal(d.denies(token({ apiKeyId: 'k1' })), true, "a token minted from the user's key");
    assert.equal(d.denies(token({ issuedAtSec: T0 / 1000 + 1 })), true, 'within the slack');
    assert.equal(d.denies(token({ issuedAtSec: T0 / 1000 + 2 })), false, 'issued afterwards');
    assert.equal(d.denies(token({ subject: 'user-b' })), false);
  });

  it('USER without a user id applies to the service account it names', () => {
    const d = list();
    d.add(revocation({ scope: 'user', serviceAccountId: 'sa-1' }));
    assert.equal(d.denies(token({ subject: 'sa-1', apiKeyId: 'k9' })), true);
  });

  it('USER_ORGANIZATION denies the user in that organisation only', () => {
    const d = list();
    d.add(revocation({ scope: 'user_organization', userId: 'user-a', organizationId: 'org-1' }));
    assert.equal(d.denies(token({ sessionId: 's1', organizationId: 'org-1' })), true);
    assert.equal(d.denies(token({ sessionId: 's1', organizationId: 'org-2' })), false);
    assert.equal(d.denies(token({ sessionId: 's1' })), false, 'no active organisation');
    assert.equal(
      d.denies(token({ organizationId: 'org-1', issuedAtSec: T0 / 1000 + 5 })),
      false,
      'a token issued after the removal (a new membership)',
    );
  });

  it('API_KEY denies the tokens minted from the key up to the revocation', () => {
    const d = list();
    d.add(revocation({ scope: 'api_key', apiKeyId: 'k1', serviceAccountId: 'sa-1' }));
    assert.equal(d.denies(token({ subject: 'sa-1', apiKeyId: 'k1' })), true);
    assert.equal(d.denies(token({ subject: 'sa-1', apiKeyId: 'k2' })), false, 'another key');
    assert.equal(
      d.denies(token({ subject: 'sa-1', apiKeyId: 'k1', issuedAtSec: T0 / 1000 + 5 })),
      false,
      'minted after its service account was enabled again',
    );
  });

  it('an unknown scope ends everything the event names', () => {
    const d = list();
    d.add(revocation({ sessionId: 's1', apiKeyId: 'k1', userId: 'user-b' }));
    assert.equal(d.denies(token({ sessionId: 's1' })), true);
    assert.equal(d.denies(token({ apiKeyId: 'k1', subject: 'sa-9' })), true);
    assert.equal(d.denies(token({ subject: 'user-b' })), true);
  });

  it('keeps a later revocation of the same subject over an earlier one', () => {
    const d = list();
    d.add(revocation({ scope: 'user', userId: 'user-a', revokeTimeMs: T0 + 60_000 }));
    d.add(revocation({ scope: 'user', userId: 'user-a', revokeTimeMs: T0 }));
    assert.equal(d.denies(token({ issuedAtSec: T0 / 1000 + 30 })), true);
  });

  it('drops entries once every token they match has expired', () => {
    const d = list();
    d.add(revocation({ scope: 'session', sessionId: 's1' }));
    d.add(revocation({ scope: 'user', userId: 'user-b', revokeTimeMs: T0 + HOUR }));
    assert.equal(d.prune(T0 + HOUR), 0, 'a token issued just before may still be valid');
    assert.equal(d.prune(T0 + HOUR + 1001), 1);
    assert.deepEqual(d.size(), { sessions: 0, subjects: 1, memberships: 0, apiKeys: 0 });
    assert.equal(d.denies(token({ sessionId: 's1' })), false);
  });
});
