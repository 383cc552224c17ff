import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Query, SQL } from "drizzle-orm";
import { monotonicFactory } from "ulid";
import { ProblemError } from "../errors";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

const instances = new WeakMap<D1Database, { raw: D1Database; db: Db }>();

/** The binding and its drizzle instance, built once per isolate; D1 failures surface as 503. */
function instance(d1: D1Database) {
  let built = instances.get(d1);
  if (!built) {
    const raw = guarded(d1);
    built = { raw, db: drizzle(raw, { schema }) };
    instances.set(d1, built);
  }
  return built;
}

/** One drizzle instance per D1 binding per isolate; a D1 failure surfaces as 503 GATEWAY_UNAVAILABLE. */
export const getDb = (d1: D1Database): Db => instance(d1).db;

/** What any caller sees when D1 cannot answer: a client may retry, and it is never a 500. */
export function storageUnavailable(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  console.error(JSON.stringify({ level: "error", msg: "D1 failed", error: String(err) }));
  return new ProblemError("GATEWAY_UNAVAILABLE", "Key storage is unreachable; try again shortly.", {
    headers: { "Retry-After": "5" },
  });
}

const unwrapped = new WeakMap<object, object>();

/**
 * The binding behind a proxy whose every call, and every object a call returns (prepared
 * statements), turns a throw or a rejection into `storageUnavailable`. Objects handed back in
 * (statements passed to `batch`) are unwrapped first, as the binding expects its own.
 */
function guarded<T extends object>(target: T): T {
  const proxy = new Proxy(target, {
    get(obj, property) {
      let value: unknown;
      try {
        value = Reflect.get(obj, property);
      } catch (err) {
        throw storageUnavailable(err);
      }
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = value.apply(obj, args.map(unwrap));
        } catch (err) {
          throw storageUnavailable(err);
        }
        if (result instanceof Promise) return result.catch((err) => Promise.reject(storageUnavailable(err)));
        return result !== null && typeof result === "object" ? guarded(result) : result;
      };
    },
  });
  unwrapped.set(proxy, target);
  return proxy;
}

function unwrap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrap);
  return (value !== null && typeof value === "object" && unwrapped.get(value)) || value;
}

const ulid = monotonicFactory();

/**
 * `<prefix>_<ULID>`: ids sort by creation time, so "newest first" is "id descending". `chg` and
 * `clm` mark a lineage's row for one admin change or one KeyState claim (docs/consistency.md);
 * `evt` names an event, `whk` a webhook endpoint, `wha` one delivery attempt (docs/events.md).
 */
export const newId = (prefix: "key" | "aud" | "chg" | "clm" | "evt" | "whk" | "wha"): string => `${prefix}_${ulid()}`;

export const KEY_ID_PATTERN = /^key_[0-9A-HJKMNP-TV-Z]{26}$/;

const dialect = new SQLiteAsyncDialect();

export type Statement = SQL | { toSQL(): Query };

/**
 * Runs drizzle-built statements as one D1 batch: one transaction, in order. (drizzle's own
 * batch cannot bind parameters of raw `sql` statements, which the guarded writes need.)
 */
export function runBatch(d1: D1Database, statements: Statement[]): Promise<D1Result[]> {
  const db = instance(d1).raw;
  return db.batch(
    statements.map((statement) => {
      const query = "toSQL" in statement ? statement.toSQL() : dialect.sqlToQuery(statement);
      return db.prepare(query.sql).bind(...query.params);
    }),
  );
}
