import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { ADMIN_TOKEN, expectDocumented } from "./helpers";
import { gatewayWith, type Gateway } from "./gateway-helpers";

/** The prefixes the import tests configure as IMPORTED_KEY_PREFIXES. */
export const PREFIXES = ["sk_live_", "bs_"];

/** A gateway whose config lists PREFIXES (and `more` vars); one per scenario, reused (config is parsed per env object). */
export const importGateway = (more: Partial<Env> = {}) => gatewayWith({ IMPORTED_KEY_PREFIXES: JSON.stringify(PREFIXES), ...more } as Partial<Env>);

export interface ImportResult {
  index: number;
  status: "created" | "exists" | "invalid";
  id?: string;
  problem?: { code: string; title: string; detail: string; issues?: { path: string; message: string }[] };
}

/** POST /admin/keys/import through `gateway`, its answer checked against the OpenAPI document. */
export async function postImport(gateway: { call: Gateway }, body: unknown): Promise<Response> {
  const res = await gateway.call("/admin/keys/import", ADMIN_TOKEN, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  await expectDocumented("POST", "/admin/keys/import", res);
  return res;
}

/** The results of an import that answered 200. */
export async function imported(gateway: { call: Gateway }, body: unknown): Promise<ImportResult[]> {
  const res = await postImport(gateway, body);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { results: ImportResult[] }).results;
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A key in another product's format: `prefix` and `length` random base62 characters. */
export function foreignKey(prefix = "sk_live_", length = 24): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return prefix + [...bytes].map((b) => ALPHABET[b % 62]).join("");
}

const digest = async (key: string) => new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));

/** `sha256:<hex>` of a key, as an import's `hash` takes it. */
export const hexHash = async (key: string) => `sha256:${[...(await digest(key))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;

/** `sha256-base64:<base64>` of a key. */
export const base64Hash = async (key: string) => `sha256-base64:${btoa(String.fromCharCode(...(await digest(key))))}`;

/** How many rows of `table` match `where` (bound to `values`), read from D1 directly. */
export async function rows(table: string, where: string, ...values: unknown[]): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...values)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
