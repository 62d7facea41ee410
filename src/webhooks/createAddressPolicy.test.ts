import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyAddress, createAddressPolicy } from './createAddressPolicy.ts';

const strict = createAddressPolicy({
  allowHttp: false,
  allowPrivateNetworks: false,
  allowedCidrs: [],
});

describe('classifyAddress', () => {
  const cases: [string, string][] = [
    ['8.8.8.8', 'unicast'],
    ['93.184.216.34', 'unicast'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['2001:4860:4860::8888', 'unicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'unicast'],
    ['[::1]', 'loopback'],
    // Forms that embed another IPv4 address are not public unicast either.
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
    ['2001::1', 'teredo'],
  ];
  for (const [address, range] of cases) {
    test(`${address} is ${range}`, () => assert.equal(classifyAddress(address), range));
  }

  test('names are not addresses', () => {
    assert.equal(classifyAddress('localhost'), null);
    assert.equal(classifyAddress('example.com'), null);
    assert.equal(classifyAddress(''), null);
  });
});

describe('checkAddress', () => {
  test('only public unicast by default', () => {
    assert.equal(strict.checkAddress('8.8.8.8'), null);
    assert.equal(strict.checkAddress('2001:4860:4860::8888'), null);
    for (const refused of [
      '127.0.0.1',
      '10.0.0.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '100.64.1.1',
      '0.0.0.0',
      '224.0.0.1',
    ]) {
      assert.match(strict.checkAddress(refused) ?? '', /public addresses only/, refused);
    }
  });

  test('WEBHOOK_ALLOW_PRIVATE_NETWORKS allows everything', () => {
    const open = createAddressPolicy({
      allowHttp: true,
      allowPrivateNetworks: true,
      allowedCidrs: [],
    });
    assert.equal(open.checkAddress('127.0.0.1'), null);
    assert.equal(open.checkAddress('::1'), null);
  });

  test('WEBHOOK_ALLOWED_CIDRS allows just those ranges, IPv4-mapped included', () => {
    const some = createAddressPolicy({
      allowHttp: false,
      allowPrivateNetworks: false,
      allowedCidrs: ['10.20.0.0/16', 'fd00:1::/64'],
    });
    assert.equal(some.checkAddress('10.20.3.4'), null);
    assert.equal(some.checkAddress('::ffff:10.20.3.4'), null);
    assert.equal(some.checkAddress('fd00:1::5'), null);
    assert.notEqual(some.checkAddress('10.21.0.1'), null);
    assert.notEqual(some.checkAddress('fd00:2::5'), null);
    assert.notEqual(some.checkAddress('127.0.0.1'), null);
  });
});

describe('checkUrl', () => {
  test('https to a public host or name is fine', () => {
    assert.equal(strict.checkUrl('https://hooks.example.com/gatehouse'), null);
    assert.equal(strict.checkUrl('https://8.8.8.8:8443/x'), null);
  });

  test('http only when allowed', () => {
    assert.match(strict.checkUrl('http://hooks.example.com/') ?? '', /https/);
    const dev = createAddressPolicy({
      allowHttp: true,
      allowPrivateNetworks: false,
      allowedCidrs: [],
    });
    assert.equal(dev.checkUrl('http://hooks.example.com/'), null);
    assert.match(dev.checkUrl('ftp://hooks.example.com/') ?? '', /http or https/);
  });

  test('IP literal hosts are checked at once, in every spelling', () => {
    for (const url of [
      'https://127.0.0.1/',
      'https://[::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://10.0.0.1:8443/',
      'https://169.254.169.254/latest/meta-data',
      'https://0x7f000001/',
      'https://2130706433/',
      'https://127.1/',
      'https://[fd00::1]/',
    ]) {
      assert.match(strict.checkUrl(url) ?? '', /public addresses only/, url);
    }
  });

  test('credentials, fragments and garbage are refused', () => {
    assert.match(strict.checkUrl('https://user:pw@hooks.example.com/') ?? '', /credentials/);
    assert.match(strict.checkUrl('https://hooks.example.com/#x') ?? '', /fragment/);
    assert.match(strict.checkUrl('not a url') ?? '', /absolute URL/);
  });
});
