/**
 * keygate's key format (src/keys/format.ts, DESIGN.md "Key format"), ported so the
 * benchmark can make well-formed keys that were never stored, and the admin calls the
 * benchmark needs to create real ones.
 */
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LENGTH = 43;
const CHECKSUM_LENGTH = 6;

function base62(value, width) {
  let out = "";
  for (let v = value; v > 0n; v /= 62n) out = ALPHABET[Number(v % 62n)] + out;
  return out.padStart(width, "0");
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(text) {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A well-formed key with a valid checksum that keygate has never stored. */
export function unknownKey(prefix = "kg_live") {
  const head = `${prefix}_${base62(BigInt(`0x${randomBytes(32).toString("hex")}`), RANDOM_LENGTH)}`;
  return head + base62(BigInt(crc32(head)), CHECKSUM_LENGTH);
}

/** Same shape as a key, last checksum character changed: rejected before any storage is read. */
export function malformedKey() {
  const key = unknownKey();
  const last = key.at(-1);
  return key.slice(0, -1) + (last === "0" ? "1" : "0");
}

export function adminClient(gateway, adminToken) {
  const headers = { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" };
  return {
    headers,
    async create(fields) {
      const res = await fetch(`${gateway}/admin/keys`, { method: "POST", headers, body: JSON.stringify(fields) });
      if (res.status !== 201) throw new Error(`POST /admin/keys answered ${res.status}: ${await res.text()}`);
      return res.json();
    },
  };
}

/** A body for POST /admin/keys; each owner holds one key, far below MAX_KEYS_PER_OWNER. */
export const keyBody = (label, n, limit = 1_000_000_000) => ({
  name: `bench ${label} ${n}`,
  ownerId: `bench-${label}-${n}`,
  ratelimits: [{ name: "minute", limit, windowSeconds: 60 }],
});

/** Creates `count` keys with `concurrency` requests in flight; returns the plaintext keys. */
export async function createMany(admin, label, count, concurrency = 16) {
  const keys = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      keys[n] = (await admin.create(keyBody(label, n))).key;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return keys;
}
