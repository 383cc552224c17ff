/**
 * Key format (DESIGN.md, "Key format"): `<prefix>_<random><checksum>`.
 * random: 32 random bytes as a base62 big-endian integer, 43 characters.
 * checksum: CRC-32 (IEEE) of `<prefix>_<random>` in base62, 6 characters.
 */

export const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const RANDOM_LENGTH = 43;
export const CHECKSUM_LENGTH = 6;
export const BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH;
export const PREFIX_PATTERN = /^[a-z][a-z0-9_]{1,19}$/;
const BODY_PATTERN = new RegExp(`^[0-9A-Za-z]{${BODY_LENGTH}}$`);
/** Longest text that can be a key; anything longer is rejected without further work. */
export const MAX_KEY_LENGTH = 20 + 1 + BODY_LENGTH;

export type Environment = "live" | "test";

export const defaultPrefix = (environment: Environment): string => `kg_${environment}`;

export function base62(value: bigint, width: number): string {
  let out = "";
  for (let v = value; v > 0n; v /= 62n) out = ALPHABET[Number(v % 62n)] + out;
  return out.padStart(width, "0");
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib computes it) of an ASCII string. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The checksum's base62: a CRC-32 fits a double exactly, so no BigInt on the hot path. */
export function checksum(text: string): string {
  let out = "";
  for (let v = crc32(text); v > 0; v = Math.floor(v / 62)) out = ALPHABET[v % 62] + out;
  return out.padStart(CHECKSUM_LENGTH, "0");
}

export function generateKey(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`invalid key prefix ${JSON.stringify(prefix)}`);
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  const head = `${prefix}_${base62(value, RANDOM_LENGTH)}`;
  return head + checksum(head);
}

export interface ParsedKey {
  prefix: string;
  body: string;
  /** prefix, `_` and the first 4 characters of the body: safe to show. */
  start: string;
}

/** Parses a key and checks its checksum; null when it is not a keygate key. Touches no storage. */
export function parseKey(key: string): ParsedKey | null {
  if (key.length > MAX_KEY_LENGTH) return null;
  const cut = key.lastIndexOf("_");
  if (cut < 0) return null;
  const prefix = key.slice(0, cut);
  const body = key.slice(cut + 1);
  if (!PREFIX_PATTERN.test(prefix) || !BODY_PATTERN.test(body)) return null;
  const head = key.slice(0, cut + 1 + RANDOM_LENGTH);
  if (checksum(head) !== body.slice(RANDOM_LENGTH)) return null;
  return { prefix, body, start: `${prefix}_${body.slice(0, 4)}` };
}

const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const encoder = new TextEncoder();

/** Lowercase hex SHA-256 of the whole key: the only form in which keys are stored. */
export async function hashKey(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(key)));
  let hex = "";
  for (let i = 0; i < digest.length; i++) hex += HEX_BYTES[digest[i]];
  return hex;
}
