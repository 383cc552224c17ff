import { usageBuffer } from "./analytics/buffer";
import { getDb } from "./store/db";
import { pruneAppliedFlushes } from "./store/flush";
import { pruneUsage } from "./store/usage";
import { pruneSecurityEvents } from "./store/security-events";
import { pruneAttempts } from "./store/webhooks";
import { pruneNotices } from "./store/notices";
import { relayOutbox } from "./events/dispatch";
import { noticeExpiries } from "./events/expiry";
import { prunePortal } from "./store/portal";
import { continueRollouts } from "./lifecycle/owners";
import type { Services } from "./context";

/** wrangler.toml's Cron Trigger that relays the event outbox every minute (the other one is hourly). */
export const RELAY_CRON = "* * * * *";

/**
 * The Cron Triggers (wrangler.toml). Every minute: events left in the outbox go to the queue
 * (docs/events.md). Hourly: `key.expiring` and `key.expired` notices; request log pages past
 * 7 days, rollups past 400 days, security events and delivery attempts past 30 days, flush ids
 * past their retention, and portal links and sessions a day after they ended are deleted;
 * whatever this isolate still holds of usage is written; owners' homes not yet told of their
 * plan's last change are told (docs/consistency.md); the outbox is relayed too. A step that
 * fails is logged and the run reports failure; the next run catches up.
 */
export async function cleanUp(env: Env, services: Services, now: number, cron?: string): Promise<void> {
  const relay = () => relayOutbox(env, now);
  const steps: Record<string, () => Promise<unknown>> =
    cron === RELAY_CRON
      ? { outbox: relay }
      : {
          expiries: () => noticeExpiries(env, now),
          usage: () => pruneUsage(getDb(env.DB), now),
          securityEvents: () => pruneSecurityEvents(getDb(env.DB), now),
          deliveryAttempts: () => pruneAttempts(getDb(env.DB), now),
          expiryNotices: () => pruneNotices(getDb(env.DB), now),
          flushIds: () => pruneAppliedFlushes(env.DB, now),
          portal: () => prunePortal(getDb(env.DB), now),
          buffer: () => usageBuffer().flush(),
          planRollouts: () => continueRollouts(env, services),
          outbox: relay,
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
