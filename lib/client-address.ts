// Client addresses in one spelling, and the network each belongs to: what the grace window binds to and throttling counts by.
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { ipKeyGenerator } from 'express-rate-limit';

/** How inet_ntop (behind `SocketAddress`) writes an IPv4-mapped IPv6 address: this, then the IPv4 address dotted. */
const IPV4_MAPPED_PREFIX = '::ffff:';

/**
 * One spelling per client address, so that one client is one string however its address reached
 * `req.ip`: an IPv4 address as it is; an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`,
 * `::FFFF:c633:6407`, what a dual-stack listener or a proxy reports for an IPv4 client) as the IPv4
 * address it carries; any other IPv6 address in its canonical text (RFC 5952: lower case, the longest
 * run of zeros compressed, by Node's own `SocketAddress`) without a zone (`%eth0`). What is not an IP
 * address (an app's own `req.ip` may report anything) comes back unchanged; `undefined` (a closed
 * socket) as `''`.
 *
 * @example
 * ```ts
 * normaliseAddress('::FFFF:198.51.100.7'); // '198.51.100.7'
 * normaliseAddress('2001:0DB8:0:0:0:0:0:1'); // '2001:db8::1'
 * ```
 */
export function normaliseAddress(ip: string | undefined): string {
  if (ip === undefined) return '';
  if (isIPv4(ip) || !isIPv6(ip)) return ip;
  const canonical = new SocketAddress({ address: ip, family: 'ipv6' }).address;
  const carried = canonical.startsWith(IPV4_MAPPED_PREFIX) ? canonical.slice(IPV4_MAPPED_PREFIX.length) : '';
  return isIPv4(carried) ? carried : canonical;
}

/**
 * The network a client address is counted by, as one string: an IPv4 address is its own; an IPv6
 * address stands for its first `v6Bits` bits (`2001:db8:41:7::/64`), since one home or phone holds a
 * whole /64 (or a /56) and moves within it (privacy addresses). Normalised first
 * ({@link normaliseAddress}), so an IPv4-mapped address is its IPv4 one; the prefix is
 * express-rate-limit's `ipKeyGenerator`, the same reading throttling uses. What is not an IP address
 * comes back as {@link normaliseAddress} gives it.
 *
 * @param v6Bits - How many leading bits of an IPv6 address count: 64 for the grace window's client binding, 56 for throttling.
 *
 * @example
 * ```ts
 * addressPrefix('2001:db8:41:7:a1b2:c3d4:e5f6:1', 64); // '2001:db8:41:7::/64'
 * addressPrefix('::ffff:198.51.100.7', 56); // '198.51.100.7'
 * ```
 */
export function addressPrefix(ip: string | undefined, v6Bits: number): string {
  const address = normaliseAddress(ip);
  return isIPv6(address) ? ipKeyGenerator(address, v6Bits) : address;
}
