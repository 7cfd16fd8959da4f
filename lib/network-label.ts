// Network labels: the coarse network a client's address belongs to (an IPv4 /24, an IPv6 /48), kept with its session instead of the address.
import { isIPv4, isIPv6 } from 'node:net';
import { normaliseAddress } from './client-address';

/**
 * What a session keeps of its login's address (the `sessionNetwork` option):
 * - `'prefix'`: the network, an IPv4 /24 or an IPv6 /48 (`198.51.100.0/24`, `2001:db8:1234::/48`);
 * - `'address'`: the whole address;
 * - `'off'`: nothing.
 */
export type SessionNetworkMode = 'prefix' | 'address' | 'off';

/** How many leading bits of an IPv6 address the label keeps: a site's allocation, not a device's. */
const IPV6_PREFIX_GROUPS = 3;

/**
 * The network label of a client address, as `mode` says ({@link SessionNetworkMode}). An IPv4-mapped
 * IPv6 address (`::ffff:198.51.100.7`) counts as its IPv4 address; an IPv6 prefix is written the
 * RFC 5952 way (lower case, zeros compressed). An absent address, or one that is not an IP address
 * (an app's own `req.ip` may say anything), gives `''`, as does `'off'`.
 *
 * @example
 * ```ts
 * networkLabel('198.51.100.7', 'prefix'); // '198.51.100.0/24'
 * networkLabel('2001:db8:1234:5678::1', 'prefix'); // '2001:db8:1234::/48'
 * networkLabel('::ffff:198.51.100.7', 'address'); // '198.51.100.7'
 * ```
 */
export function networkLabel(ip: string | undefined, mode: SessionNetworkMode): string {
  if (mode === 'off') return '';
  const address = normaliseAddress(ip);
  if (isIPv4(address)) return mode === 'address' ? address : `${address.slice(0, address.lastIndexOf('.'))}.0/24`;
  if (!isIPv6(address)) return '';
  if (mode === 'address') return address;
  const kept = ipv6Groups(address).slice(0, IPV6_PREFIX_GROUPS);
  while (kept.length > 0 && kept[kept.length - 1] === 0) kept.pop();
  // The five zero groups after the prefix are always the longest run, so RFC 5952 compresses them.
  return `${kept.map((group) => group.toString(16)).join(':')}::/48`;
}

/**
 * The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted IPv4 part read as
 * two groups). `address` must be a valid IPv6 address (checked by the caller with `isIPv6`).
 */
export function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((piece) => {
      if (!piece.includes('.')) return [parseInt(piece, 16)];
      const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const gap = address.indexOf('::');
  if (gap === -1) return parse(address);
  const head = parse(address.slice(0, gap));
  const tail = parse(address.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
