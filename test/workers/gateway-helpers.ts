import { env } from "cloudflare:workers";
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";
import { generateKey, hashKey } from "../../src/keys/format";
import { clearMemoryCache, publishKey } from "../../src/store/cache";
import { getDb } from "../../src/store/db";
import { findByHash } from "../../src/store/keys";
import type { KeyRecord, StoredKey } from "../../src/keys/record";
import { admin, BASE, problem } from "./helpers";

/** What the test origin echoes back: the request exactly as it arrived there. */
export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  bodyBytes: number;
  bodySha256: string;
}

export async function echoed(res: Response): Promise<Echo> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get("X-Origin")).toBe("echo");
  return JSON.parse(text) as Echo;
}

/** Asserts a problem+json answer with the contract's shape, status and code; returns the body. */
export async function expectProblem(res: Response, status: number, code: string) {
  expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
  const body = await problem(res);
  expect({ status: res.status, code: body.code }).toEqual({ status, code });
  expect(Object.keys(body)).toEqual(expect.arrayContaining(["type", "title", "status", "detail", "code", "requestId"]));
  expect(body.type).toMatch(/^https?:\/\//);
  expect(body.title.length).toBeGreaterThan(0);
  expect(body.detail.length).toBeGreaterThan(0);
  if (status === 401) expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer( |$)/);
  return body;
}

/** A key in keygate's format with a valid checksum that no one ever created. */
export const unknownKey = (): string => generateKey("kg_live");

/** The same key with its last checksum character changed. */
export function corrupted(key: string): string {
  const last = key.at(-1) === "0" ? "1" : "0";
  return key.slice(0, -1) + last;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function getRecord(id: string): Promise<KeyRecord> {
  const res = await admin(`/keys/${id}`);
  expect(res.status).toBe(200);
  return res.json();
}

export async function patchKey(id: string, json: Record<string, unknown>): Promise<KeyRecord> {
  const res = await admin(`/keys/${id}`, { method: "PATCH", json });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

export async function revokeKey(id: string): Promise<void> {
  const res = await admin(`/keys/${id}`, { method: "DELETE" });
  expect(res.status).toBe(200);
}

export async function rotateKey(id: string, gracePeriodSeconds: number): Promise<KeyRecord & { key: string }> {
  const res = await admin(`/keys/${id}/rotate`, { method: "POST", json: { gracePeriodSeconds } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

/** Runs the lineage's KeyState alarm: the batched usage write-back to D1. */
export function flushUsage(lineageId: string): Promise<boolean> {
  return runDurableObjectAlarm(env.KEY_STATE.get(env.KEY_STATE.idFromName(lineageId)));
}

/** The record as D1 holds it now. */
export async function storedRecord(key: string): Promise<StoredKey> {
  const stored = await findByHash(getDb(env.DB), await hashKey(key));
  if (!stored) throw new Error("no such key in D1");
  return stored;
}

/**
 * Makes this isolate's memory and KV hold `old` again, as an isolate that missed an admin
 * change would: only KeyState's record version can tell the gateway its copy is stale.
 */
export const serveStale = (old: StoredKey): Promise<void> => publishKey(env, old);

/** Forgets the key in this isolate's memory and in KV, so the next lookup has to reach D1. */
export async function uncache(key: string): Promise<void> {
  clearMemoryCache();
  await env.KEY_CACHE.delete(`key:${await hashKey(key)}`);
}

/** A binding that fails on any use, as an unreachable store would. */
export function throwing<T>(what: string): T {
  return new Proxy(
    {},
    {
      get() {
        throw new Error(`${what} is unreachable`);
      },
    },
  ) as T;
}

export type Gateway = (path: string, key: string | null, init?: RequestInit) => Promise<Response>;

/**
 * The worker called directly with a custom env (bindings swapped for fakes). The worker caches
 * config and services per env object, so build one per scenario and reuse it.
 */
export function gatewayWith(overrides: Partial<Env>): { env: Env; call: Gateway } {
  const custom = { ...env, ...overrides } as Env;
  const call: Gateway = async (path, key, init = {}) => {
    const headers = new Headers(init.headers);
    if (key !== null) headers.set("Authorization", `Bearer ${key}`);
    if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", "198.51.100.7");
    const ctx = createExecutionContext();
    const request = new Request(`${BASE}${path}`, { ...init, headers }) as Request<unknown, IncomingRequestCfProperties>;
    const res = await worker.fetch(request, custom, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  return { env: custom, call };
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Decodes the X-Keygate-Metadata header (base64url of UTF-8 JSON). */
export function decodeMetadata(value: string): unknown {
  const base64 = value.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

/** Counts of each status in a set of responses, e.g. `{ 200: 10, 429: 40 }`. */
export function statusCounts(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.status] = (counts[res.status] ?? 0) + 1;
  return counts;
}

type KeyStateNamespace = Env["KEY_STATE"];
type KeyStateCall = "admit" | "peek" | "version" | "change" | "lease";
type Stub = ReturnType<KeyStateNamespace["get"]>;

/**
 * The real KeyState namespace as the isolate under test sees it, except that the named calls
 * answer with `faults[call](...)` instead; a fault is handed the real stub and the call's arguments.
 */
export function keyStateWith(faults: Partial<Record<KeyStateCall, (real: Stub, ...args: unknown[]) => unknown>>): KeyStateNamespace {
  return {
    idFromName: (name: string) => env.KEY_STATE.idFromName(name),
    get: (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
      const stub = env.KEY_STATE.get(id, options);
      return new Proxy(stub, {
        get: (target, property) =>
          property in faults ? (...args: unknown[]) => faults[property as KeyStateCall]!(target, ...args) : Reflect.get(target, property),
      });
    },
  } as unknown as KeyStateNamespace;
}

/** Runs `during` with the home of `lineageId` writing to D1 through `db`, as if its D1 failed so. */
export async function withHomeDb<T>(lineageId: string, db: D1Database, during: () => Promise<T>): Promise<T> {
  const stub = env.KEY_STATE.get(env.KEY_STATE.idFromName(lineageId));
  const swap = (to: (real: Env) => Env) =>
    runInDurableObject(stub, (instance: object) => {
      const holder = instance as { env: Env };
      holder.env = to(holder.env);
    });
  let real: Env | undefined;
  await swap((current) => ((real = current), { ...current, DB: db }));
  try {
    return await during();
  } finally {
    await swap(() => real!);
  }
}

export const rejects = () => Promise.reject(new Error("object reset"));
export const hangs = () => new Promise(() => {});

/**
 * The real D1, except for batches that write: "fail" refuses them before they run, as a D1
 * that fails mid-change; "lose-answer" runs them and then throws, as a connection lost after
 * the commit; `{ lateByMs }` throws at once while the batch is still on its way, and runs it
 * that much later. Reads (and batches of reads) pass through.
 */
export function d1FailingWrites(mode: "fail" | "lose-answer" | { lateByMs: number }): D1Database {
  const real = env.DB;
  /** batches still on their way (`lateByMs`) */
  const late: Promise<unknown>[] = [];
  const sqlOf = new WeakMap<object, string>();
  const inner = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement, text: string): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get: (target, property) => {
        if (property === "bind") return (...values: unknown[]) => wrap(target.bind(...values), text);
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    sqlOf.set(proxy, text);
    inner.set(proxy, statement);
    return proxy;
  };
  return new Proxy(real, {
    get: (target, property) => {
      if (property === "landed") return () => Promise.all(late.splice(0));
      if (property === "prepare") return (text: string) => wrap(target.prepare(text), text);
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const unwrapped = statements.map((s) => inner.get(s) ?? s);
          if (!statements.some((s) => /^\s*(insert|update|delete)/i.test(sqlOf.get(s) ?? ""))) return target.batch(unwrapped);
          if (mode === "fail") throw new Error("D1_ERROR: the change could not be written");
          if (typeof mode === "object") {
            late.push(new Promise((resolve) => setTimeout(resolve, mode.lateByMs)).then(() => target.batch(unwrapped)).catch(() => undefined));
            throw new Error("Network connection lost.");
          }
          await target.batch(unwrapped);
          throw new Error("Network connection lost.");
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
