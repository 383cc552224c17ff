/**
 * GitHub's secret-scanning partner reports (DESIGN.md, "Lifecycle rules"; docs/events.md):
 * each report is signed with ECDSA P-256 SHA-256 over its raw body, under one of the keys
 * GitHub publishes at SECRET_SCANNING_KEYS_URL. The keys are cached per isolate and fetched
 * again for an identifier the cache does not hold.
 */

export type Verdict = "verified" | "bad-signature" | "unknown-key" | "keys-unavailable";

interface KeySet {
  keys: Map<string, Promise<CryptoKey | null>>;
  fetchedAt: number;
}

/** A fetched key list is used this long before it is fetched again. */
const KEYS_MAX_AGE_MS = 3_600_000;
/** An unknown identifier fetches the list again at most this often: it is GitHub's API, and rate-limited. */
const REFETCH_AFTER_MS = 60_000;
const FETCH_TIMEOUT_MS = 5_000;

const cache = new Map<string, KeySet>();

/** Forgets the cached keys (tests). */
export const forgetSecretScanningKeys = () => cache.clear();

interface PublishedKey {
  key_identifier?: unknown;
  key?: unknown;
}

async function fetchKeys(url: string): Promise<KeySet> {
  const res = await fetch(url, {
    headers: { Accept: "application/json", "User-Agent": "keygate-secret-scanning/1" },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`the keys URL answered HTTP ${res.status}`);
  const body = (await res.json()) as { public_keys?: PublishedKey[] };
  if (!Array.isArray(body.public_keys)) throw new Error("the keys URL answered no public_keys list");
  const keys = new Map<string, Promise<CryptoKey | null>>();
  for (const published of body.public_keys) {
    if (typeof published.key_identifier !== "string" || typeof published.key !== "string") continue;
    keys.set(published.key_identifier, importPem(published.key).catch(() => null));
  }
  return { keys, fetchedAt: Date.now() };
}

function importPem(pem: string): Promise<CryptoKey> {
  const base64 = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
}

/** The key GitHub published under `identifier`: from the cache, or from a fresh fetch of the list. */
async function keyFor(url: string, identifier: string): Promise<CryptoKey | null | "unavailable"> {
  const now = Date.now();
  let set = cache.get(url);
  const stale = !set || now - set.fetchedAt > KEYS_MAX_AGE_MS;
  const unknown = set !== undefined && !set.keys.has(identifier) && now - set.fetchedAt > REFETCH_AFTER_MS;
  if (stale || unknown) {
    try {
      set = await fetchKeys(url);
      cache.set(url, set);
    } catch (err) {
      console.warn(JSON.stringify({ level: "warn", msg: "secret-scanning keys could not be fetched", error: String(err) }));
      if (!set) return "unavailable";
      if (!set.keys.has(identifier)) return "unavailable";
    }
  }
  return (await set!.keys.get(identifier)) ?? null;
}

/** An ASN.1 DER ECDSA signature (SEQUENCE of INTEGER r, INTEGER s) as the 64 bytes r‖s WebCrypto verifies. */
export function derToRaw(der: Uint8Array): Uint8Array | null {
  let at = 0;
  const byte = () => (at < der.length ? der[at++] : -1);
  if (byte() !== 0x30) return null;
  let length = byte();
  if (length === 0x81) length = byte();
  if (length !== der.length - at) return null;
  const out = new Uint8Array(64);
  for (const offset of [0, 32]) {
    if (byte() !== 0x02) return null;
    let size = byte();
    if (size < 1 || size > 33 || at + size > der.length) return null;
    while (size > 32) {
      if (der[at] !== 0) return null;
      at++;
      size--;
    }
    out.set(der.subarray(at, at + size), offset + 32 - size);
    at += size;
  }
  return at === der.length ? out : null;
}

function base64Bytes(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Whether `body` carries a valid signature under the key GitHub published as `identifier`. */
export async function verifyReport(url: string, identifier: string | null, signature: string | null, body: Uint8Array): Promise<Verdict> {
  if (!identifier || !signature) return "bad-signature";
  const der = base64Bytes(signature);
  const raw = der && derToRaw(der);
  if (!raw) return "bad-signature";
  const key = await keyFor(url, identifier);
  if (key === "unavailable") return "keys-unavailable";
  if (!key) return "unknown-key";
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, body);
  return ok ? "verified" : "bad-signature";
}
