import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskUrlPassword } from './maskUrlPassword.ts';

describe('maskUrlPassword', () => {
  it('masks the password of URLs and of strings that only look like one', () => {
    for (const [input, expected] of [
      [
        'postgres://gatehouse:s3cret@db:5432/gatehouse',
        'postgres://gatehouse:***@db:5432/gatehouse',
      ],
      ['postgres://u:p@ss@db/x', 'postgres://u:***@db/x'],
      ['postgres://u:p#ss@db/x', 'postgres://u:***@db/x'],
      ['gatehouse:s3cret@db:5432/gatehouse', 'gatehouse:***@db:5432/gatehouse'],
      ['smtp://u:pw@', 'smtp://u:***@'],
      ['postgres://u:pw@d b/x', 'postgres://u:***@d b/x'],
    ]) {
      assert.equal(maskUrlPassword(input as string), expected);
    }
  });

  it('leaves URLs without a password alone', () => {
    for (const url of [
      'postgres://postgres@127.0.0.1:5432/x',
      'redis://127.0.0.1:6379',
      'not a url',
    ]) {
      assert.equal(maskUrlPassword(url), url);
    }
  });
});
