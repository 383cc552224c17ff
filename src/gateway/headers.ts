import type { LimitState } from "../admission/budget";
import type { StoredKey } from "../keys/record";
import type { OwnerView } from "../owners/record";

/** Connection-level headers never forwarded in either direction (RFC 9110, 7.6.1). */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy` and `RateLimit`, one item per
 * limit, plus the `X-RateLimit-*` trio for the most constrained limit.
 */
export function rateLimitHeaders(limits: readonly LimitState[]): [string, string][] {
  if (limits.length === 0) return [];
  const tightest = limits.reduce((a, b) =>
    b.remaining < a.remaining || (b.remaining === a.remaining && b.reset > a.reset) ? b : a,
  );
  return [
    ["RateLimit-Policy", limits.map((l) => `"${l.name}";q=${l.limit};w=${l.windowSeconds}`).join(", ")],
    ["RateLimit", limits.map((l) => `"${l.name}";r=${l.remaining};t=${l.reset}`).join(", ")],
    ["X-RateLimit-Limit", String(tightest.limit)],
    ["X-RateLimit-Remaining", String(tightest.remaining)],
    ["X-RateLimit-Reset", String(tightest.reset)],
  ];
}

export function setRateLimitHeaders(headers: Headers, limits: readonly LimitState[]): void {
  for (const [name, value] of rateLimitHeaders(limits)) headers.set(name, value);
}

/** base64url of UTF-8 JSON: safe in a header whatever the metadata holds. */
export function base64urlJson(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const identities = new WeakMap<StoredKey, [string, string][]>();

/**
 * The identity headers the origin receives (DESIGN.md, "What the origin receives"), worked
 * out once per record: a cached record is one object, and a changed key is a new one.
 */
export function identityHeaders(key: StoredKey): readonly [string, string][] {
  let pairs = identities.get(key);
  if (!pairs) {
    pairs = [
      ["X-Keygate-Key-Id", key.id],
      ["X-Keygate-Owner-Id", key.ownerId],
      ["X-Keygate-Environment", key.environment],
      ["X-Keygate-Scopes", key.scopes.join(" ")],
      ["X-Keygate-Metadata", base64urlJson(key.metadata)],
    ];
    identities.set(key, pairs);
  }
  return pairs;
}

const ownerPairs = new WeakMap<OwnerView, [string, string][]>();

/**
 * What the origin learns of the key's owner (DESIGN.md, "What the origin receives"): its plan
 * when it has one, its metadata when it has some; worked out once per cached view.
 */
export function ownerHeaders(view: OwnerView | null): readonly [string, string][] {
  if (!view) return [];
  let pairs = ownerPairs.get(view);
  if (!pairs) {
    pairs = [];
    if (view.plan) pairs.push(["X-Keygate-Plan", view.plan.id]);
    if (Object.keys(view.owner.metadata).length > 0) pairs.push(["X-Keygate-Owner-Metadata", base64urlJson(view.owner.metadata)]);
    ownerPairs.set(view, pairs);
  }
  return pairs;
}
