import { describe, expect, it } from 'vitest';
import { addressAllowed, isValidRange, parseRange } from '../../src/domain/ip-allowlist.js';

describe('isValidRange', () => {
  it.each(['10.0.0.0/8', '192.168.1.7', '0.0.0.0/0', '2001:db8::/32', '::1', '::/0', '::ffff:10.0.0.0/104', '10.1.2.3/32'])(
    'accepts %s',
    (range) => {
      expect(isValidRange(range)).toBe(true);
    },
  );

  it.each([
    '',
    'not-an-ip',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '/8',
    '256.0.0.1',
    '10.0.0',
    '010.1.1.1',
    '0x7f.1',
    '1',
    '10.0.0/8',
    '2001:db8::/129',
    '2001:db8:::1',
    '10.0.0.0/8/8',
    '10.0.0.0/abc',
    '1.2.3.4 5.6.7.8',
  ])('refuses %j', (range) => {
    expect(isValidRange(range)).toBe(false);
    expect(parseRange(range)).toBeNull();
  });
});

describe('addressAllowed', () => {
  it('matches IPv4 addresses against CIDRs and single hosts', () => {
    const ranges = ['10.0.0.0/8', '192.168.1.7'];
    expect(addressAllowed('10.200.3.4', ranges)).toBe(true);
    expect(addressAllowed('192.168.1.7', ranges)).toBe(true);
    expect(addressAllowed('192.168.1.8', ranges)).toBe(false);
    expect(addressAllowed('11.0.0.1', ranges)).toBe(false);
  });

  it('honours the prefix length at its edges', () => {
    expect(addressAllowed('172.16.0.0', ['172.16.0.0/12'])).toBe(true);
    expect(addressAllowed('172.31.255.255', ['172.16.0.0/12'])).toBe(true);
    expect(addressAllowed('172.32.0.0', ['172.16.0.0/12'])).toBe(false);
    expect(addressAllowed('8.8.8.8', ['0.0.0.0/0'])).toBe(true);
  });

  it('matches IPv6 addresses', () => {
    const ranges = ['2001:db8::/32'];
    expect(addressAllowed('2001:db8:1234::1', ranges)).toBe(true);
    expect(addressAllowed('2001:db9::1', ranges)).toBe(false);
    expect(addressAllowed('::1', ['::1'])).toBe(true);
    expect(addressAllowed('::2', ['::1'])).toBe(false);
  });

  it('treats IPv4-mapped IPv6 clients as IPv4', () => {
    expect(addressAllowed('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(addressAllowed('::ffff:11.1.2.3', ['10.0.0.0/8'])).toBe(false);
    expect(addressAllowed('::ffff:127.0.0.1', ['127.0.0.1'])).toBe(true);
  });

  it('treats IPv4-mapped IPv6 ranges as IPv4 ranges', () => {
    expect(addressAllowed('10.1.2.3', ['::ffff:10.0.0.0/104'])).toBe(true);
    expect(addressAllowed('11.1.2.3', ['::ffff:10.0.0.0/104'])).toBe(false);
    expect(addressAllowed('::ffff:10.1.2.3', ['::ffff:10.0.0.0/104'])).toBe(true);
  });

  it('never lets one family match the other', () => {
    expect(addressAllowed('10.0.0.1', ['::/0'])).toBe(false);
    expect(addressAllowed('2001:db8::1', ['0.0.0.0/0'])).toBe(false);
  });

  it('fails closed for a missing or unparseable address', () => {
    expect(addressAllowed(undefined, ['0.0.0.0/0'])).toBe(false);
    expect(addressAllowed('', ['0.0.0.0/0'])).toBe(false);
    expect(addressAllowed('not-an-ip', ['0.0.0.0/0'])).toBe(false);
    expect(addressAllowed('10.0.0.1', [])).toBe(false);
  });

  it('skips invalid ranges instead of matching everything', () => {
    expect(addressAllowed('10.0.0.1', ['10.0.0.0/33', 'garbage'])).toBe(false);
    expect(addressAllowed('10.0.0.1', ['garbage', '10.0.0.0/8'])).toBe(true);
  });
});

describe('strict client addresses (hardening)', () => {
  it.each(['012.001.002.003', '167838211', '0xa.1.2.3', '::127.0.0.21', '1.2.3.04', 'fe80::1%eth0'])('%s matches no entry', (address) => {
    expect(addressAllowed(address, ['10.1.2.3', '127.0.0.21', '1.2.3.4', 'fe80::/10', '0.0.0.0/0'].filter((r) => !address.includes(':') || r.includes(':')))).toBe(false);
  });

  it('reads an IPv6 address ending in a dotted quad as the IPv6 address it is', () => {
    expect(addressAllowed('::127.0.0.21', ['::7f00:15'])).toBe(true);
    expect(addressAllowed('::ffff:10.1.2.3', ['10.1.2.3'])).toBe(true);
  });
});
