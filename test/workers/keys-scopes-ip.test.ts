import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { missingScopes, scopeGrants, SCOPE_PATTERN } from "../../src/keys/scopes";
import { ipAllowed, parseRange, RANGE_PATTERN } from "../../src/keys/ip";

const part = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,11}$/).filter((s) => s !== "admin");

describe("scope matching", () => {
  it("exact scopes and each wildcard form grant what they name, and nothing else", () => {
    fc.assert(
      fc.property(part, part, part, part, (resource, action, otherResource, otherAction) => {
        const required = `${resource}:${action}`;
        expect(scopeGrants(required, required)).toBe(true);
        expect(scopeGrants("*", required)).toBe(true);
        expect(scopeGrants(`${resource}:*`, required)).toBe(true);
        expect(scopeGrants(`*:${action}`, required)).toBe(true);
        if (otherResource !== resource) {
          expect(scopeGrants(`${otherResource}:*`, required)).toBe(false);
          expect(scopeGrants(`${otherResource}:${action}`, required)).toBe(false);
        }
        if (otherAction !== action) {
          expect(scopeGrants(`*:${otherAction}`, required)).toBe(false);
          expect(scopeGrants(`${resource}:${otherAction}`, required)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("wildcards never grant the admin resource", () => {
    for (const action of ["read", "write"]) {
      for (const held of ["*", "*:*", `*:${action}`, "admin:*"]) expect(scopeGrants(held, `admin:${action}`)).toBe(false);
      expect(scopeGrants(`admin:${action}`, `admin:${action}`)).toBe(true);
    }
  });

  it("reports exactly the scopes a key lacks", () => {
    expect(missingScopes(["posts:read", "users:*"], ["posts:read", "posts:write", "users:delete"])).toEqual(["posts:write"]);
    expect(missingScopes([], [])).toEqual([]);
  });

  it("accepts the contract's scope forms and refuses others", () => {
    for (const ok of ["posts:read", "posts:*", "*:read", "*", "admin:write"]) expect(SCOPE_PATTERN.test(ok)).toBe(true);
    for (const bad of ["", "posts", "posts:", ":read", "posts:read:x", "po sts:read", "posts:read\n", "**"]) {
      expect(SCOPE_PATTERN.test(bad)).toBe(false);
    }
  });
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const v4Text = (o: number[]) => o.join(".");
const v4Int = (o: number[]) => ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 });
const v6Text = (g: number[]) => g.map((x) => x.toString(16)).join(":");
const v6Big = (g: number[]) => g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n);

describe("CIDR matching", () => {
  it("an IPv4 address is in a range exactly when its leading bits match", () => {
    fc.assert(
      fc.property(ipv4, ipv4, fc.integer({ min: 0, max: 32 }), (addr, net, bits) => {
        const shift = 32 - bits;
        const same = bits === 0 || v4Int(addr) >>> shift === v4Int(net) >>> shift;
        expect(ipAllowed(v4Text(addr), [`${v4Text(net)}/${bits}`])).toBe(same);
      }),
      { numRuns: 1000 },
    );
  });

  it("an IPv6 address is in a range exactly when its leading bits match", () => {
    fc.assert(
      fc.property(ipv6, ipv6, fc.integer({ min: 0, max: 128 }), (addr, net, bits) => {
        const shift = BigInt(128 - bits);
        const same = v6Big(addr) >> shift === v6Big(net) >> shift;
        expect(ipAllowed(v6Text(addr), [`${v6Text(net)}/${bits}`])).toBe(same);
      }),
      { numRuns: 1000 },
    );
  });

  it("an address in a range stays in it written as IPv4-mapped IPv6", () => {
    fc.assert(
      fc.property(ipv4, (addr) => {
        expect(ipAllowed(`::ffff:${v4Text(addr)}`, [`${v4Text(addr)}/32`])).toBe(true);
      }),
    );
  });

  it("families never match each other; an empty list allows all; garbage is refused", () => {
    expect(ipAllowed("10.0.0.1", ["::/0"])).toBe(false);
    expect(ipAllowed("2001:db8::1", ["0.0.0.0/0"])).toBe(false);
    expect(ipAllowed("10.0.0.1", [])).toBe(true);
    expect(ipAllowed(null, ["10.0.0.0/8"])).toBe(false);
    expect(ipAllowed("not-an-ip", ["10.0.0.0/8"])).toBe(false);
    for (const bad of ["10.0.0.0/33", "2001:db8::/129", "300.1.1.1", "10.0.0.0/", "/8", "10.0.0.0/8/8", ""]) {
      expect(parseRange(bad)).toBeNull();
    }
  });
});

describe("RANGE_PATTERN (allowedIps in the admin API's document)", () => {
  const pattern = new RegExp(RANGE_PATTERN, "u");
  /** The one rule the pattern leaves to the description: an IPv4-mapped range needs at least 96 bits. */
  const mappedShortRange = (entry: string) => {
    const [text, bits] = entry.split("/");
    return text.includes(":") && parseRange(text)?.[0].kind() === "ipv4" && Number(bits) < 96;
  };
  const agrees = (entry: string) => {
    const taken = parseRange(entry) !== null;
    expect(pattern.test(entry), entry).toBe(taken || mappedShortRange(entry));
  };

  const token = fc.constantFrom("0", "1", "9", "00", "01", "10", "99", "255", "256", "ffff", "FFFF", "abcd", "12345", "g", ":", "::", ".", "/", "32", "33", "96", "128", "129", " ");
  const compressed = fc.tuple(ipv6, fc.nat(8), fc.nat(8), fc.boolean()).map(([groups, start, length, quad]) => {
    const hex = groups.map((g) => g.toString(16));
    const tail = quad ? [`${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`] : [];
    const all = quad ? [...hex.slice(0, 6), ...tail] : hex;
    const from = Math.min(start, all.length);
    const to = Math.min(from + length, all.length);
    return to > from ? `${all.slice(0, from).join(":")}::${all.slice(to).join(":")}` : all.join(":");
  });
  const withBits = (text: fc.Arbitrary<string>) =>
    fc.tuple(text, fc.option(fc.integer({ min: 0, max: 140 }))).map(([t, bits]) => (bits === null ? t : `${t}/${bits}`));

  it("matches exactly the entries keygate takes, written any way", () => {
    fc.assert(fc.property(fc.array(token, { minLength: 1, maxLength: 14 }).map((t) => t.join("")), agrees), { numRuns: 5000 });
    fc.assert(fc.property(withBits(compressed), agrees), { numRuns: 3000 });
    fc.assert(fc.property(withBits(ipv4.map(v4Text)), agrees), { numRuns: 1000 });
    fc.assert(fc.property(withBits(ipv4.map((o) => `::ffff:${v4Text(o)}`)), agrees), { numRuns: 500 });
  });

  it("agrees on the cases people get wrong", () => {
    for (const entry of [
      "10.0.0.1", "010.0.0.1", "10.1", "167772161", "0x0a.0.0.1", "10.0.0.0/8", "10.0.0.0/08", "10.0.0.0/33",
      "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7",
      "::ffff:10.0.0.1", "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/64", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
      "fe80::1%eth0", "[::1]", "2001:db8::/32", "2001:db8::/129", "2001:DB8::/048", "",
    ]) agrees(entry);
  });
});
