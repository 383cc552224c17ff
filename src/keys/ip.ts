import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Addresses and CIDR ranges in their standard text forms only: IPv4 as four decimal parts
 * without leading zeros (so `010.0.0.1`, `0x0a.0.0.1`, `167772161` and `10.1`, which some
 * parsers read as other addresses, are refused), IPv6 as RFC 4291 section 2.2 writes it
 * (hex groups, at most one `::`, optionally ending in a dotted quad; no zone id).
 */
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/**
 * The text forms `parseRange` takes, as one regular expression for the admin API's document
 * (so a client refuses what keygate would before sending it). It states the address forms
 * and prefix lengths; one rule it leaves to the description: an IPv4-mapped IPv6 range needs
 * a prefix of at least 96 bits. test/workers/keys-scopes-ip.test.ts checks the two agree.
 */
export const RANGE_PATTERN = (() => {
  const octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
  const quad = `${octet}(?:\\.${octet}){3}`;
  const h = "[0-9A-Fa-f]{1,4}";
  // hex groups with at most one "::", 8 groups in all (a dotted quad at the end counts as two)
  const ipv6 = [
    `(?:${h}:){7}${h}`,
    `(?:${h}:){6}${quad}`,
    `(?:${h}:){1,7}:`,
    `(?:${h}:){1,6}:${h}`,
    `(?:${h}:){1,5}(?::${h}){1,2}`,
    `(?:${h}:){1,4}(?::${h}){1,3}`,
    `(?:${h}:){1,3}(?::${h}){1,4}`,
    `(?:${h}:){1,2}(?::${h}){1,5}`,
    `${h}:(?::${h}){1,6}`,
    `:(?::${h}){1,7}`,
    "::",
    `::(?:${h}:){0,5}${quad}`,
    `${h}::(?:${h}:){0,4}${quad}`,
    `(?:${h}:){2}:(?:${h}:){0,3}${quad}`,
    `(?:${h}:){3}:(?:${h}:){0,2}${quad}`,
    `(?:${h}:){4}:(?:${h}:){0,1}${quad}`,
    `(?:${h}:){5}:${quad}`,
  ].join("|");
  return `^(?:${quad}(?:/(?:3[0-2]|[12][0-9]|[0-9]))?|(?:${ipv6})(?:/(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]))?)$`;
})();
const GROUP = /^[0-9A-Fa-f]{1,4}$/;
const BITS = /^(0|[1-9]\d{0,2})$/;

function isIpv6Text(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  let groups = text;
  const tailStart = text.lastIndexOf(":") + 1;
  if (text.includes(".")) {
    if (!IPV4.test(text.slice(tailStart))) return false;
    groups = `${text.slice(0, tailStart)}0:0`; // the dotted quad stands for two groups
  }
  const halves = groups.split("::");
  if (halves.length > 2) return false;
  const split = (half: string) => (half === "" ? [] : half.split(":"));
  const all = halves.flatMap(split);
  if (!all.every((group) => GROUP.test(group))) return false;
  return halves.length === 2 ? all.length <= 7 : all.length === 8;
}

/** An address in standard text form, parsed; IPv4-mapped IPv6 becomes IPv4. Null for anything else. */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (IPV4.test(text)) return ipaddr.IPv4.parse(text);
  if (!isIpv6Text(text)) return null;
  const address = ipaddr.IPv6.parse(text);
  return address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

/** Parses an address or CIDR range in standard text form; null when it is neither. */
export function parseRange(entry: string): Range | null {
  const cut = entry.indexOf("/");
  const text = cut < 0 ? entry : entry.slice(0, cut);
  const address = parseAddress(text);
  if (!address) return null;
  if (cut < 0) return [address, address.kind() === "ipv4" ? 32 : 128];
  const width = IPV4.test(text) ? 32 : 128; // as written: an IPv4-mapped range counts IPv6 bits
  const bitsText = entry.slice(cut + 1);
  if (!BITS.test(bitsText) || Number(bitsText) > width) return null;
  const bits = Number(bitsText);
  if (address.kind() === "ipv4" && width === 128) return bits >= 96 ? [address, bits - 96] : null;
  return [address, bits];
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
  const address = ip ? parseAddress(ip) : null;
  if (!address) return false;
  return compile(allowed).some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}
