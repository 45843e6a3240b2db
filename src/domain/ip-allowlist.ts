import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses an address or CIDR; a bare address means just that host. Returns null when invalid. */
export function parseRange(text: string): Range | null {
  try {
    // ipaddr.js also reads inet_aton forms ('10.0.0', octal '010.1.1.1'); an allowlist entry
    // must mean what it says, so IPv4 is accepted only as four decimal parts.
    const address = text.trim().split('/')[0]!;
    if (!address.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(address)) return null;
    if (text.includes('/')) return ipaddr.parseCIDR(text.trim());
    const addr = ipaddr.parse(text.trim());
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return null;
  }
}

export function isValidRange(text: string): boolean {
  return parseRange(text) !== null;
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as Node reports IPv4 clients on dual-stack sockets) is treated as IPv4. */
function normalise(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    const parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
      return (parsed as ipaddr.IPv6).toIPv4Address();
    }
    return parsed;
  } catch {
    return null;
  }
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
