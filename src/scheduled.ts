import { usageBuffer } from "./analytics/buffer";
import { getDb } from "./store/db";
import { pruneAppliedFlushes } from "./store/flush";
import { pruneUsage } from "./store/usage";
import { prunePortal } from "./store/portal";

/**
 * The Cron Trigger (wrangler.toml, hourly): deletes request log pages past 7 days, rollups past
 * 400 days, flush ids past their retention, portal links and sessions a day after they ended, and writes whatever this isolate still holds.
 * A step that fails is logged and the run reports failure; the next run catches up.
 */
export async function cleanUp(env: Env, now: number): Promise<void> {
  const steps = {
    usage: () => pruneUsage(getDb(env.DB), now),
    flushIds: () => pruneAppliedFlushes(env.DB, now),
    portal: () => prunePortal(getDb(env.DB), now),
    buffer: () => usageBuffer().flush(),
  };
  const failed: string[] = [];
  for (const [name, step] of Object.entries(steps)) {
    try {
      const result = await step();
      console.log(JSON.stringify({ level: "info", msg: "cleanup", step: name, result }));
    } catch (err) {
      failed.push(name);
      console.error(JSON.stringify({ level: "error", msg: "cleanup failed", step: name, error: String(err) }));
    }
  }
  if (failed.length) throw new Error(`cleanup failed: ${failed.join(", ")}`);
}
