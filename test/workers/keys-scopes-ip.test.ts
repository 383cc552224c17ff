import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { missingScopes, scopeGrants, SCOPE_PATTERN } from "../../src/keys/scopes";
import { ipAllowed, parseRange } from "../../src/keys/ip";

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
