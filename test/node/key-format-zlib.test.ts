import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { expect, it } from "vitest";
import { checksum, crc32, generateKey, base62, RANDOM_LENGTH } from "../../src/keys/format.ts";

it("CRC-32 agrees with zlib on arbitrary ASCII", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary-ascii", maxLength: 200 }), (text) => {
      expect(crc32(text)).toBe(zlibCrc32(Buffer.from(text, "latin1")));
    }),
    { numRuns: 2000 },
  );
});

it("a generated key's checksum is zlib's CRC-32 of `<prefix>_<random>` in base62", () => {
  for (let i = 0; i < 200; i++) {
    const key = generateKey("kg_live");
    const head = key.slice(0, "kg_live_".length + RANDOM_LENGTH);
    expect(key.slice(head.length)).toBe(base62(BigInt(zlibCrc32(head)), 6));
    expect(key.slice(head.length)).toBe(checksum(head));
  }
});
