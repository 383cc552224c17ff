import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALPHABET, BODY_LENGTH, crc32, generateKey, hashKey, parseKey, PREFIX_PATTERN } from "../../src/keys/format";

const prefixArb = fc.stringMatching(/^[a-z][a-z0-9_]{1,19}$/).filter((p) => PREFIX_PATTERN.test(p));
const printable = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));

describe("key format", () => {
  it("CRC-32 matches the IEEE check value", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("")).toBe(0);
  });

  it("every generated key parses, with the contract's layout", () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant("kg_live"), fc.constant("kg_test"), prefixArb), (prefix) => {
        const key = generateKey(prefix);
        const parsed = parseKey(key);
        expect(parsed).not.toBeNull();
        expect(parsed!.prefix).toBe(prefix);
        expect(key).toBe(`${prefix}_${parsed!.body}`);
        expect(parsed!.body).toHaveLength(BODY_LENGTH);
        expect([...parsed!.body].every((ch) => ALPHABET.includes(ch))).toBe(true);
        expect(parsed!.start).toBe(`${prefix}_${parsed!.body.slice(0, 4)}`);
      }),
      { numRuns: 300 },
    );
  });

  it("changing any single character of a key is rejected", () => {
    fc.assert(
      fc.property(prefixArb, fc.nat(), printable, (prefix, at, replacement) => {
        const key = generateKey(prefix);
        const i = at % key.length;
        fc.pre(key[i] !== replacement);
        expect(parseKey(key.slice(0, i) + replacement + key.slice(i + 1))).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it("dropping, adding or swapping characters is rejected", () => {
    fc.assert(
      fc.property(prefixArb, fc.nat(), fc.constantFrom(...ALPHABET), (prefix, at, extra) => {
        const key = generateKey(prefix);
        const i = at % key.length;
        expect(parseKey(key.slice(0, i) + key.slice(i + 1))).toBeNull();
        expect(parseKey(key.slice(0, i) + extra + key.slice(i))).toBeNull();
        const j = key.length - 1;
        const swapped = key.slice(0, j - 1) + key[j] + key[j - 1];
        if (swapped !== key) expect(parseKey(swapped)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary text is never taken for a key", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        const parsed = parseKey(text);
        if (parsed) expect(parseKey(generateKey(parsed.prefix))).not.toBeNull();
        return parsed === null;
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects prefixes outside ^[a-z][a-z0-9_]{1,19}$ and oversized input", () => {
    for (const prefix of ["K", "1kg", "kg-live", "k", "a".repeat(21), "Kg_live"]) {
      expect(() => generateKey(prefix)).toThrow();
    }
    expect(parseKey("kg_live_" + "0".repeat(10_000))).toBeNull();
  });

  it("hashes as lowercase hex SHA-256 of the whole key", async () => {
    expect(await hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
