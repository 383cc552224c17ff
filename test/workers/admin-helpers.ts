import { expect } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { admin, createKey, problem, uniqueOwner, type Created } from "./helpers";

/** What `GET /admin/audit` lists. */
export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetId: string;
  requestId: string;
  clientIp: string | null;
  changes: Record<string, { from: unknown; to: unknown }>;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface VerifyResult {
  valid: boolean;
  code: string;
  keyId: string | null;
  ownerId: string | null;
  scopes: string[] | null;
  metadata: Record<string, unknown> | null;
  ratelimits: { name: string; limit: number; windowSeconds: number; remaining: number; reset: number }[] | null;
  credits: { remaining: number; refill: unknown; refillIn: number | null } | null;
}

/** The fields DESIGN.md's "Key record" lists, in its order; a record has exactly these. */
export const RECORD_FIELDS = [
  "id",
  "name",
  "ownerId",
  "environment",
  "start",
  "scopes",
  "metadata",
  "allowedIps",
  "ratelimits",
  "credits",
  "expiresAt",
  "enabled",
  "revokedAt",
  "rotatedFrom",
  "suspendedUntil",
  "imported",
  "lastUsedAt",
  "usageCount",
  "version",
  "createdAt",
  "updatedAt",
] as const;

export const KEY_ID = /^key_[0-9A-HJKMNP-TV-Z]{26}$/;

/** The body of a response with the expected status; the status assertion shows the body on failure. */
export async function body<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** A problem+json answer with this status and code, in the contract's shape. */
export async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const p = (await problem(res)) as Awaited<ReturnType<typeof problem>> & { issues?: { path: string; message: string }[] };
  expect(p.code).toBe(code);
  expect(p.type).toMatch(/^https:\/\//);
  expect(p.title.length).toBeGreaterThan(0);
  expect(p.detail.length).toBeGreaterThan(0);
  return p;
}

/** A 400 VALIDATION_FAILED naming `path` both in its issues and in its detail. */
export async function expectInvalid(res: Response, path: string) {
  const p = await expectProblem(res, 400, "VALIDATION_FAILED");
  expect(Array.isArray(p.issues), JSON.stringify(p)).toBe(true);
  expect(p.issues!.map((i) => i.path), JSON.stringify(p)).toContain(path);
  if (path) expect(p.detail).toContain(path);
  return p;
}

export const isIso = (value: unknown): boolean =>
  typeof value === "string" && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const getRecord = async (id: string, token?: string) => body<KeyRecord>(await admin(`/keys/${id}`, { token }), 200);

export const patch = (id: string, json: unknown, token?: string) => admin(`/keys/${id}`, { method: "PATCH", json, token });
export const revoke = (id: string, token?: string) => admin(`/keys/${id}`, { method: "DELETE", token });
export const rotate = (id: string, json: unknown = {}, token?: string) =>
  admin(`/keys/${id}/rotate`, { method: "POST", json, token });
export const verify = async (json: unknown) => body<VerifyResult>(await admin("/keys/verify", { method: "POST", json }), 200);

/** Every item of a paginated admin list, following nextCursor to the end. */
export async function walk<T>(path: string, params: Record<string, string>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = new URLSearchParams(params);
    if (cursor) query.set("cursor", cursor);
    const page: Page<T> = await body<Page<T>>(await admin(`${path}?${query}`), 200);
    items.push(...page.data);
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 1000);
  return { items, pages };
}

export const auditOf = async (targetId: string) =>
  (await walk<AuditEntry>("/audit", { targetId, limit: "100" })).items;

export const auditBy = async (actor: string) => (await walk<AuditEntry>("/audit", { actor, limit: "100" })).items;

export const keysOf = async (ownerId: string, extra: Record<string, string> = {}) =>
  (await walk<KeyRecord>("/keys", { ownerId, limit: "100", ...extra })).items;

/** A key that authenticates admin calls, holding exactly these scopes. */
export const adminKey = (scopes: string[]): Promise<Created> =>
  createKey({ name: "admin key", ownerId: uniqueOwner("operator"), scopes });
