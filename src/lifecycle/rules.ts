import { keyEvent } from "../events/raise";
import { queueEvents } from "../events/dispatch";
import type { SuspensionRequest } from "../events/types";
import { getDb } from "../store/db";
import { leakHandled, markLeakHandled, noteLeak } from "../store/leaks";
import type { StoredKey } from "../keys/record";
import type { LeakAction } from "../config";
import { bump, changeLineage, type LifecycleEnv } from "./keys";

/**
 * What keygate does to keys by itself (DESIGN.md, "Lifecycle rules"), through the same
 * lifecycle as an operator's change: committed with its audit entry and its events, and in
 * force on the next request in every isolate and region.
 */

/**
 * Suspends a key the abuse rule caught (ABUSE_POLICY), until `request.until`, with an audit
 * entry by the actor of `ctx` (`keygate`) and a `key.suspended` event. Answers the key as
 * suspended, or null when nothing was done: the key is revoked, the suspension is already over
 * or already covered by a longer one, or it was decided before an operator's change that left
 * the key unsuspended (a lift must not be undone by a request still on its way).
 */
export async function suspendKey(ctx: LifecycleEnv, request: SuspensionRequest): Promise<StoredKey | null> {
  let suspended: StoredKey | null = null;
  await changeLineage(ctx, request.keyId, (_, target, now) => {
    suspended = null; // each attempt plans afresh
    const current = target.suspendedUntil ?? null;
    if (target.revokedAt !== null || request.until <= now) return null;
    if (current !== null && current >= request.until) return null;
    if (current === null && target.updatedAt > request.at) return null;
    const after = bump({ ...target, suspendedUntil: request.until }, now);
    suspended = after;
    const abuse = { rateLimitedPerMinute: request.policy.rateLimitedPerMinute, suspendSeconds: request.policy.suspendSeconds, refusals: request.refusals };
    return {
      writes: [{ before: target, after, action: "key.suspend", note: { abuse: { from: null, to: abuse } }, events: [keyEvent("key.suspended", after, { abuse }, now)] }],
    };
  });
  return suspended;
}

/** One reported token, as GitHub's secret scanning describes where it was found. */
export interface LeakReport {
  tokenHash: string;
  type: string | null;
  url: string | null;
  source: string | null;
}

/** What became of a reported key: handled now, or already handled by an earlier report. */
export type LeakOutcome = "handled" | "already-handled";

/**
 * Handles a key GitHub reported as leaked, by LEAK_ACTION: `revoke` (default) or `disable` it,
 * or `notify` only. Each is audited with the actor of `ctx` (`github-secret-scanning`) and the
 * report's `url`, and raises `key.leaked` (with `key.revoked` or `key.updated` for the change).
 * A key already revoked (or, for `disable`, already disabled) is noted as `notify` would. A
 * token already handled is not handled again.
 */
export async function handleLeak(ctx: LifecycleEnv, key: StoredKey, report: LeakReport, action: LeakAction): Promise<LeakOutcome> {
  const { env } = ctx;
  if (await leakHandled(getDb(env.DB), report.tokenHash)) return "already-handled";
  const leak = { url: report.url, source: report.source, type: report.type, action };
  const note = { leak: { from: null, to: leak } };
  let changed = false;
  if (action !== "notify") {
    await changeLineage(ctx, key.id, (_, target, now) => {
      changed = false; // each attempt plans afresh
      if (target.revokedAt !== null || (action === "disable" && !target.enabled)) return null;
      changed = true;
      const leaked = (after: StoredKey) => keyEvent("key.leaked", after, { leak }, now);
      if (action === "revoke") {
        const after = bump({ ...target, revokedAt: now }, now);
        return { writes: [{ before: target, after, action: "key.revoke", note, events: [keyEvent("key.revoked", after, {}, now), leaked(after)] }] };
      }
      const after = bump({ ...target, enabled: false }, now);
      return {
        writes: [{ before: target, after, action: "key.update", note, events: [keyEvent("key.updated", after, { changes: { enabled: { from: true, to: false } } }, now), leaked(after)] }],
      };
    });
  }
  const mark = { tokenHash: report.tokenHash, keyId: key.id, url: report.url, at: Date.now() };
  if (changed) {
    await markLeakHandled(env.DB, mark);
    return "handled";
  }
  const event = keyEvent("key.leaked", key, { leak }, mark.at);
  if (!(await noteLeak(env.DB, mark, ctx.audit, note, event))) return "already-handled";
  ctx.waitUntil(queueEvents(env, [event]));
  return "handled";
}
