// The network label: what a session keeps of its login's address (the sessionNetwork option).
import { ipv6Groups, networkLabel } from '../lib/network-label';

describe("networkLabel with 'prefix' (the default): the IPv4 /24 or the IPv6 /48", () => {
  test.each([
    ['198.51.100.7', '198.51.100.0/24'],
    ['10.0.0.1', '10.0.0.0/24'],
    ['127.0.0.1', '127.0.0.0/24'],
    ['::ffff:198.51.100.7', '198.51.100.0/24'],
    ['::FFFF:c633:6407', '198.51.100.0/24'],
    ['2001:db8:1234:5678:9abc:def0:1234:5678', '2001:db8:1234::/48'],
    ['2001:0DB8:1234:0000:0000:0000:0000:0001', '2001:db8:1234::/48'],
    ['2001:db8::1', '2001:db8::/48'],
    ['2001:0:1::5', '2001:0:1::/48'],
    ['2001::1', '2001::/48'],
    ['::1', '::/48'],
    ['::', '::/48'],
    ['fe80::1%eth0', 'fe80::/48'],
    ['::1.2.3.4', '::/48'],
  ])('%s → %s', (ip, label) => {
    expect(networkLabel(ip, 'prefix')).toBe(label);
  });

  test('no address, or something that is not an IP address, is no network', () => {
    expect(networkLabel(undefined, 'prefix')).toBe('');
    expect(networkLabel('', 'prefix')).toBe('');
    expect(networkLabel('unknown', 'prefix')).toBe('');
    expect(networkLabel('198.51.100', 'prefix')).toBe('');
    expect(networkLabel('2001:db8::1::2', 'prefix')).toBe('');
  });
});

describe("networkLabel with 'address' and 'off'", () => {
  test("'address' keeps the whole address, in one spelling (an IPv4-mapped one as IPv4)", () => {
    expect(networkLabel('198.51.100.7', 'address')).toBe('198.51.100.7');
    expect(networkLabel('::ffff:198.51.100.7', 'address')).toBe('198.51.100.7');
    expect(networkLabel('2001:0DB8:0:0:0:0:0:1', 'address')).toBe('2001:db8::1');
    expect(networkLabel('not an address', 'address')).toBe('');
  });

  test("'off' keeps nothing", () => {
    expect(networkLabel('198.51.100.7', 'off')).toBe('');
    expect(networkLabel('2001:db8::1', 'off')).toBe('');
  });
});

describe('ipv6Groups expands every spelling to eight groups', () => {
  test.each([
    ['2001:db8::1', [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['1::', [1, 0, 0, 0, 0, 0, 0, 0]],
    ['1:2:3:4:5:6:7:8', [1, 2, 3, 4, 5, 6, 7, 8]],
    ['1:2:3::6:7:8', [1, 2, 3, 0, 0, 6, 7, 8]],
    ['::ffff:1.2.3.4', [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]],
    ['64:ff9b::192.0.2.33', [0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221]],
  ])('%s', (address, groups) => {
    expect(ipv6Groups(address)).toEqual(groups);
  });
});
