import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Query, SQL } from "drizzle-orm";
import { monotonicFactory } from "ulid";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

const instances = new WeakMap<D1Database, Db>();

/** One drizzle instance per D1 binding per isolate. */
export function getDb(d1: D1Database): Db {
  let db = instances.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    instances.set(d1, db);
  }
  return db;
}

const ulid = monotonicFactory();

/** `<prefix>_<ULID>`: ids sort by creation time, so "newest first" is "id descending". */
export const newId = (prefix: "key" | "aud"): string => `${prefix}_${ulid()}`;

export const KEY_ID_PATTERN = /^key_[0-9A-HJKMNP-TV-Z]{26}$/;

const dialect = new SQLiteAsyncDialect();

export type Statement = SQL | { toSQL(): Query };

/**
 * Runs drizzle-built statements as one D1 batch: one transaction, in order. (drizzle's own
 * batch cannot bind parameters of raw `sql` statements, which the guarded writes need.)
 */
export function runBatch(d1: D1Database, statements: Statement[]): Promise<D1Result[]> {
  return d1.batch(
    statements.map((statement) => {
      const query = "toSQL" in statement ? statement.toSQL() : dialect.sqlToQuery(statement);
      return d1.prepare(query.sql).bind(...query.params);
    }),
  );
}
