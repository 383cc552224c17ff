import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses an address or CIDR range; null when it is neither. IPv4-mapped IPv6 becomes IPv4. */
export function parseRange(entry: string): Range | null {
  try {
    if (entry.includes("/")) {
      const [address, bits] = ipaddr.parseCIDR(entry);
      if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
        return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
      }
      return [address, bits];
    }
    if (!ipaddr.isValid(entry)) return null;
    const address = ipaddr.process(entry);
    return [address, address.kind() === "ipv4" ? 32 : 128];
  } catch {
    return null;
  }
}

const compiled = new Map<string, Range[]>();

function compile(list: readonly string[]): Range[] {
  const cacheKey = list.join(",");
  let ranges = compiled.get(cacheKey);
  if (!ranges) {
    ranges = list.map(parseRange).filter((range): range is Range => range !== null);
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(cacheKey, ranges);
  }
  return ranges;
}

/** True when `ip` falls in one of the ranges; an empty list allows any address. */
export function ipAllowed(ip: string | null | undefined, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  if (!ip || !ipaddr.isValid(ip)) return false;
  const address = ipaddr.process(ip);
  return compile(allowed).some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}
