import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * One address, read strictly: IPv4 only as a dotted quad of decimals without leading zeros
 * (Node's isIPv4), IPv6 only in RFC 4291 text form without a zone (Node's isIPv6). ipaddr.js
 * alone is lenient twice over: it reads inet_aton forms ('167838211', '0xa.1.2.3', octal
 * '012.001.002.003') as 10.1.2.3, and it reads an IPv6 address ending in a dotted quad
 * ('::127.0.0.21', which is ::7f00:15) as IPv4-mapped. So the dotted tail is turned into its
 * two hex groups here, and ipaddr.js only sees canonical text. Null for anything else.
 */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (isIPv4(text)) return ipaddr.IPv4.parse(text);
  if (!isIPv6(text) || text.includes('%')) return null;
  let hex = text;
  const dotted = /(?<=:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    hex = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  try {
    return ipaddr.IPv6.parse(hex);
  } catch {
    return null;
  }
}

/** Parses an address or CIDR; a bare address means just that host. Returns null when invalid. */
export function parseRange(text: string): Range | null {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addr = parseAddress(slash === -1 ? trimmed : trimmed.slice(0, slash));
  if (!addr) return null;
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  if (slash === -1) return [addr, max];
  const bitsText = trimmed.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(bitsText) || Number(bitsText) > max) return null;
  return [addr, Number(bitsText)];
}

export function isValidRange(text: string): boolean {
  return parseRange(text) !== null;
}

/**
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as Node reports IPv4 clients on dual-stack sockets) is
 * treated as IPv4. Anything that is not strictly an address (see parseAddress) is no address.
 */
function normalise(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const parsed = parseAddress(address.trim());
  if (parsed && parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed;
}

/** True when the address falls in any of the ranges; an unparseable address matches nothing. */
export function addressAllowed(address: string | undefined, ranges: readonly string[]): boolean {
  if (address === undefined) return false;
  const addr = normalise(address);
  if (!addr) return false;
  for (const text of ranges) {
    const range = parseRange(text);
    if (!range) continue;
    let [net, bits] = range;
    if (net.kind() === 'ipv6' && (net as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      net = (net as ipaddr.IPv6).toIPv4Address();
      bits -= 96;
    }
    if (net.kind() === addr.kind() && addr.match([net, bits] as never)) return true;
  }
  return false;
}
