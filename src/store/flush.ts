import { lt, sql, type SQL } from "drizzle-orm";
import { appliedFlushes } from "./schema";
import { getDb, runBatch, type Statement } from "./db";

/**
 * Runs a batched usage write at most once per `flushId`, in one D1 transaction. A flusher
 * that lost D1's answer retries with the same id; the retry then changes nothing, so no
 * count is added twice. `build` receives the guard every statement must carry in its WHERE
 * clause (an UPDATE's, or the SELECT of an `INSERT … SELECT … ON CONFLICT DO UPDATE`).
 * Answers false when the flush had already been applied.
 */
export async function runOnce(d1: D1Database, flushId: string, build: (notYetApplied: SQL) => Statement[]): Promise<boolean> {
  const notYetApplied = sql`NOT EXISTS (SELECT 1 FROM ${appliedFlushes} WHERE id = ${flushId})`;
  const results = await runBatch(d1, [
    ...build(notYetApplied),
    sql`INSERT INTO ${appliedFlushes} (id, at) VALUES (${flushId}, ${Date.now()}) ON CONFLICT (id) DO NOTHING`,
  ]);
  return results.at(-1)!.meta.changes === 1;
}

/** How long a flush id is remembered: far longer than any flusher keeps retrying. */
export const FLUSH_ID_RETENTION_MS = 7 * 86_400_000;

/** Forgets flush ids older than the retention (run by the scheduled cleanup). */
export async function pruneAppliedFlushes(d1: D1Database, now: number): Promise<void> {
  await getDb(d1).delete(appliedFlushes).where(lt(appliedFlushes.at, now - FLUSH_ID_RETENTION_MS));
}
