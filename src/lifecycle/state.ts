import { ProblemError } from "../errors";
import type { Services } from "../context";
import { toRecord, type KeyRecord, type StoredKey } from "../keys/record";
import type { Lineage } from "../store/lineage";
import { freshState } from "../admission/home";
import type { PeekResult } from "../admission/protocol";

/**
 * A lineage's limits and credits with what is left, for the admin API and the portal: from its
 * home when the home exists (D1's credit figure lags up to 60 s), else what the home will start
 * from. Reading never creates the home (DESIGN.md, "Consistency": admin calls never create a
 * lineage's objects), charges nothing and moves no window.
 */
export async function liveState(services: Services, key: StoredKey, lineage: Lineage): Promise<PeekResult> {
  if (!lineage.hasState) return freshState(key.ratelimits, lineage.credits, Date.now());
  return services.state.peek({ lineageId: lineage.id, region: null, keyId: key.id, ratelimits: key.ratelimits }).catch(() => {
    throw new ProblemError("GATEWAY_UNAVAILABLE", "Rate limits and credits cannot be read right now; try again shortly.", {
      headers: { "Retry-After": "5" },
    });
  });
}

/** The record with the live credit balance where the home answers; D1's figure is still a fine answer when it does not. */
export async function withLiveCredits(services: Services, { key, lineage }: { key: StoredKey; lineage: Lineage }): Promise<KeyRecord> {
  const record = toRecord(key);
  if (!key.credits) return record;
  const live = await liveState(services, key, lineage).catch(() => null);
  if (live?.credits) record.credits = { ...key.credits, remaining: live.credits.remaining };
  return record;
}
