/**
 * The floor: what a valid request cannot avoid under keygate's contract, written plainly, and
 * nothing else. It hashes the key (SHA-256), finds the record in isolate memory, makes one
 * Durable Object RPC that counts the request in memory, and proxies to the origin with every
 * header DESIGN.md requires there: the key removed, the identity headers (key, owner,
 * environment, scopes, metadata), an assertion signed once and reused for 30 s (as keygate
 * may), the request id and the forwarded headers; and answers with the ones it requires on the
 * answer: the rate-limit headers and the request id. No routes, no checks that could refuse,
 * no analytics, no usage records. keygate's valid_key is measured against it, so its ratio to
 * the floor is keygate's own overhead.
 *
 * The bench starts it beside keygate in the same workerd; FLOOR_KEY is the one key it knows.
 */
export const FLOOR_SOURCE = `
import { DurableObject } from "cloudflare:workers";

export class FloorCounter extends DurableObject {
  count = 0;
  check(limit) {
    this.count += 1;
    return this.count <= limit ? limit - this.count : -1;
  }
}

const encoder = new TextEncoder();
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

const records = new Map();
let signing = null;
let issued = null;

async function assertionFor(record) {
  const now = Math.floor(Date.now() / 1000);
  if (issued && now - issued.iat < 30) return issued.jwt;
  signing ??= crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const { privateKey } = await signing;
  const head = b64url(encoder.encode(JSON.stringify({ alg: "ES256", typ: "JWT", kid: "floor" })));
  const claims = { iss: "floor", aud: "default", sub: record.ownerId, kid: record.id, scope: "", env: "live", ver: 1, iat: now, exp: now + 60 };
  const body = b64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, encoder.encode(head + "." + body));
  issued = { jwt: head + "." + body + "." + b64url(signature), iat: now };
  return issued.jwt;
}

export default {
  async fetch(request, env) {
    if (records.size === 0) {
      const hash = hex(await crypto.subtle.digest("SHA-256", encoder.encode(env.FLOOR_KEY)));
      const metadata = b64url(encoder.encode(JSON.stringify({ plan: "floor" })));
      records.set(hash, { id: "key_floor", ownerId: "acct_floor", metadata, object: env.COUNTER.idFromName("floor") });
    }
    const key = (request.headers.get("Authorization") ?? "").slice(7);
    const record = records.get(hex(await crypto.subtle.digest("SHA-256", encoder.encode(key))));
    if (!record) return new Response("unknown key", { status: 401 });
    // A stub belongs to the request that made it; the object's id can be kept.
    const remaining = await env.COUNTER.get(record.object).check(1e12);
    if (remaining < 0) return new Response("limited", { status: 429 });
    const requestId = "req_" + crypto.randomUUID().replaceAll("-", "");
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("authorization");
    headers.delete("x-api-key");
    headers.set("X-Keygate-Key-Id", record.id);
    headers.set("X-Keygate-Owner-Id", record.ownerId);
    headers.set("X-Keygate-Environment", "live");
    headers.set("X-Keygate-Scopes", "");
    headers.set("X-Keygate-Metadata", record.metadata);
    headers.set("X-Keygate-Assertion", await assertionFor(record));
    headers.set("X-Request-Id", requestId);
    headers.set("X-Forwarded-For", request.headers.get("CF-Connecting-IP") ?? "127.0.0.1");
    headers.set("X-Forwarded-Proto", url.protocol.slice(0, -1));
    headers.set("X-Forwarded-Host", url.host);
    const upstream = await fetch(env.UPSTREAM_URL + url.pathname + url.search, { method: request.method, headers, body: request.body });
    const answer = new Headers(upstream.headers);
    answer.set("RateLimit-Policy", '"minute";q=1000000000000;w=60');
    answer.set("RateLimit", '"minute";r=' + remaining + ";t=60");
    answer.set("X-RateLimit-Limit", "1000000000000");
    answer.set("X-RateLimit-Remaining", String(remaining));
    answer.set("X-RateLimit-Reset", "60");
    answer.set("X-Request-Id", requestId);
    return new Response(upstream.body, { status: upstream.status, headers: answer });
  },
};
`;
