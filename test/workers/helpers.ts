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
  await expectDocumented(init.method ?? "GET", path, res);
  return res;
}

/**
 * The document describing the answer to `path`, and the path as keygate routes it (on the
 * canonical path, its prefix in any case): the admin API's under /admin, the portal API's under
 * /portal/api; null for anything else.
 */
function documentedRoute(path: string): { document: string; route: string } | null {
  const url = new URL(`${BASE}${path}`);
  const canonical = canonicalPath(url.pathname);
  const lower = canonical?.toLowerCase() ?? "";
  if (lower.startsWith("/admin/")) return { document: "/admin/openapi.json", route: `/admin${canonical!.slice("/admin".length)}${url.search}` };
  if (lower.startsWith("/portal/api/")) {
    return { document: "/portal/api/openapi.json", route: `/portal/api${canonical!.slice("/portal/api".length)}${url.search}` };
  }
  return null;
}

/** The test origin (test/support/origin.ts) holds the checker: ajv cannot compile inside workerd. */
const checker = (route: string, body: string) =>
  fetch(`${env.UPSTREAM_URL}/__openapi/${route}`, { method: "POST", body }).then((r) => r.json() as Promise<Record<string, unknown>>);

const documentIds = new Map<string, Promise<string>>();
/** The worker's own document, registered with the checker once per test file. */
function registeredDocument(path: string): Promise<string> {
  let id = documentIds.get(path);
  if (!id) {
    id = exports.default
      .fetch(new Request(`${BASE}${path}`))
      .then((res) => res.text())
      .then(async (doc) => (await checker("document", doc)).id as string);
    documentIds.set(path, id);
  }
  return id;
}

/** Fails the test when an admin or portal API answer is not what the API's OpenAPI document says. */
export async function expectDocumented(method: string, path: string, res: Response): Promise<void> {
  const routed = documentedRoute(path);
  if (!routed) return;
  const response = { method, path: routed.route, status: res.status, headers: Object.fromEntries(res.headers), body: await res.clone().text() };
  const { errors } = await checker("check", JSON.stringify({ id: await registeredDocument(routed.document), response }));
  expect(errors, `${method} ${routed.route} answered as the OpenAPI document says`).toEqual([]);
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
