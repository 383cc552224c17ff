import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { canonicalPath } from "../../src/http/paths";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const BASE = "https://gateway.test";

/**
 * A request to the worker under test, as a client on the internet would send it. Every admin
 * answer is checked against the OpenAPI document the worker serves, so a response the
 * document does not describe fails the test that received it.
 */
export async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, init));
  const routed = adminRoute(path);
  if (routed) await expectDocumented(init.method ?? "GET", routed, res);
  return res;
}

/** The admin path keygate routes a request to (it routes on the canonical path, the admin prefix in any case), or null. */
function adminRoute(path: string): string | null {
  const url = new URL(`${BASE}${path}`);
  const canonical = canonicalPath(url.pathname);
  if (!canonical?.toLowerCase().startsWith("/admin/")) return null;
  return `/admin${canonical.slice("/admin".length)}${url.search}`;
}

/** The test origin (test/support/origin.ts) holds the checker: ajv cannot compile inside workerd. */
const checker = (route: string, body: string) =>
  fetch(`${env.UPSTREAM_URL}/__openapi/${route}`, { method: "POST", body }).then((r) => r.json() as Promise<Record<string, unknown>>);

let documentId: Promise<string> | undefined;
/** The worker's own document, registered with the checker once per test file. */
function registeredDocument(): Promise<string> {
  documentId ??= exports.default
    .fetch(new Request(`${BASE}/admin/openapi.json`))
    .then((res) => res.text())
    .then(async (doc) => (await checker("document", doc)).id as string);
  return documentId;
}

async function expectDocumented(method: string, path: string, res: Response): Promise<void> {
  const response = { method, path, status: res.status, headers: Object.fromEntries(res.headers), body: await res.clone().text() };
  const { errors } = await checker("check", JSON.stringify({ id: await registeredDocument(), response }));
  expect(errors, `${method} ${path} answered as the OpenAPI document says`).toEqual([]);
}

export function admin(path: string, init: RequestInit & { json?: unknown; token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("Authorization") && init.token !== "") headers.set("Authorization", `Bearer ${init.token ?? ADMIN_TOKEN}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return send(`/admin${path}`, { ...init, headers, body });
}

export type Created = KeyRecord & { key: string };

let owners = 0;
/** A fresh owner id per call, so tests never see each other's keys. */
export const uniqueOwner = (label = "owner") => `${label}-${Date.now().toString(36)}-${++owners}`;

export async function createKey(fields: Record<string, unknown> = {}, token?: string): Promise<Created> {
  const res = await admin("/keys", {
    method: "POST",
    json: { name: "test key", ownerId: uniqueOwner(), ...fields },
    token,
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A consumer call through the gateway with the key as a Bearer token. */
export function call(path: string, key: string | null, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key !== null) headers.set("Authorization", `Bearer ${key}`);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", "198.51.100.7");
  return send(path, { ...init, headers });
}

export async function problem(res: Response) {
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  const body = (await res.json()) as { type: string; title: string; status: number; detail: string; code: string; requestId: string };
  expect(body.status).toBe(res.status);
  expect(body.requestId).toBe(res.headers.get("X-Request-Id"));
  expect(typeof body.detail).toBe("string");
  return body;
}
