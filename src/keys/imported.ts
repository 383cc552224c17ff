import { PREFIX_PATTERN, parseKey } from "./format";

/**
 * Keys that came from elsewhere (DESIGN.md, "Importing keys"): they keep the format they had. A
 * presented key that starts with one of IMPORTED_KEY_PREFIXES skips keygate's checksum; check 2
 * then only asks for 16 to 256 printable ASCII characters (docs/behaviour.md, "Importing keys").
 */
export const IMPORTED_KEY_LENGTH = { min: 16, max: 256 };

/** Printable ASCII without the space: a key travels as a Bearer token (RFC 6750), which holds no space. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** The longest of `prefixes` that `key` starts with, if `key` has an imported key's shape; null otherwise. */
export function importedPrefixOf(key: string, prefixes: readonly string[]): string | null {
  if (prefixes.length === 0 || key.length < IMPORTED_KEY_LENGTH.min || key.length > IMPORTED_KEY_LENGTH.max) return null;
  let found: string | null = null;
  for (const prefix of prefixes) if (key.startsWith(prefix) && (found === null || prefix.length > found.length)) found = prefix;
  return found !== null && VISIBLE_ASCII.test(key) ? found : null;
}

/**
 * Check 2 of DESIGN.md's table: a keygate key whose checksum matches, or a key with one of the
 * imported prefixes. Touches no storage.
 */
export const wellFormedKey = (key: string, importedPrefixes: readonly string[]): boolean =>
  importedPrefixOf(key, importedPrefixes) !== null || parseKey(key) !== null;

/**
 * What keygate stores of an imported key: its hash, the characters it may show (`start`) and the
 * prefix a rotation's successor gets ("" when the key has no keygate prefix: the environment's
 * default then serves).
 */
export interface ImportedMaterial {
  hash: string;
  start: string | null;
  prefix: string;
}

/** Why an imported key or hash cannot be taken: the item's problem. */
export interface MaterialProblem {
  code: "MALFORMED_KEY" | "VALIDATION_FAILED";
  path: "key" | "hash";
  message: string;
}

/**
 * At most 4 characters after the prefix, and never more than a quarter of what follows it, so a
 * short imported key does not show most of itself.
 */
export function importedStart(key: string, prefix: string): string {
  const rest = key.slice(prefix.length);
  return prefix + rest.slice(0, Math.min(4, Math.floor(rest.length / 4)));
}

const looksLikeKeygateKey = (key: string) => {
  const cut = key.lastIndexOf("_");
  return cut > 0 && PREFIX_PATTERN.test(key.slice(0, cut)) && /^[0-9A-Za-z]{49}$/.test(key.slice(cut + 1));
};

/**
 * A plaintext as the import takes it: accepted exactly when the gateway would accept it as
 * well-formed, so every key the import creates can be used. `hash` comes from `hashKey`.
 */
export function plaintextMaterial(
  key: string,
  importedPrefixes: readonly string[],
  hash: string,
): ImportedMaterial | MaterialProblem {
  const imported = importedPrefixOf(key, importedPrefixes);
  if (imported !== null) {
    const own = parseKey(key);
    return own ? { hash, start: own.start, prefix: own.prefix } : { hash, start: importedStart(key, imported), prefix: "" };
  }
  const own = parseKey(key);
  if (own) return { hash, start: own.start, prefix: own.prefix };
  if (looksLikeKeygateKey(key)) {
    return { code: "MALFORMED_KEY", path: "key", message: "has keygate's key format but its checksum does not match: check it was copied whole" };
  }
  const listed = importedPrefixes.length ? importedPrefixes.map((p) => JSON.stringify(p)).join(", ") : "none";
  if (importedPrefixes.some((p) => key.startsWith(p))) {
    return {
      code: "MALFORMED_KEY",
      path: "key",
      message: `an imported key is ${IMPORTED_KEY_LENGTH.min} to ${IMPORTED_KEY_LENGTH.max} printable ASCII characters without spaces`,
    };
  }
  return {
    code: "MALFORMED_KEY",
    path: "key",
    message: `is not in keygate's format and does not start with a prefix in IMPORTED_KEY_PREFIXES (${listed}): add its prefix to that var first, or the gateway would refuse it`,
  };
}

/** `sha256:<64 hex>` or `sha256-base64:<base64 of 32 bytes>`, as the import's `hash` field takes it. */
export const HASH_PATTERN = /^(sha256:[0-9A-Fa-f]{64}|sha256-base64:[A-Za-z0-9+/]{43}=?)$/;

/** The lowercase hex SHA-256 a `hash` field names; a problem when it names none. */
export function hashMaterial(text: string): ImportedMaterial | MaterialProblem {
  const invalid = (message: string): MaterialProblem => ({ code: "VALIDATION_FAILED", path: "hash", message });
  if (!HASH_PATTERN.test(text)) {
    return invalid('must be "sha256:" and 64 hex digits, or "sha256-base64:" and the base64 of the 32 bytes (44 characters with its "=")');
  }
  if (text.startsWith("sha256:")) return { hash: text.slice("sha256:".length).toLowerCase(), start: null, prefix: "" };
  const encoded = text.slice("sha256-base64:".length).replace(/=$/, "");
  const bytes = Uint8Array.from(atob(`${encoded}=`), (c) => c.charCodeAt(0));
  // 43 characters carry 258 bits: the last 2 must be zero, or two spellings would name one hash.
  if (btoa(String.fromCharCode(...bytes)).replace(/=$/, "") !== encoded) return invalid("is not the canonical base64 of 32 bytes (its last character carries stray bits)");
  return { hash: [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""), start: null, prefix: "" };
}

export const isProblem = (m: ImportedMaterial | MaterialProblem): m is MaterialProblem => "code" in m;
