import type { Services } from "../context";
import type { Credits, RateLimit } from "../keys/record";
import type { LimitState, CreditState } from "../admission/budget";
import { getDb } from "../store/db";
import { scopesHeldBy } from "../store/keys";
import { findOwnerView } from "../store/owners";
import { ownerLive } from "../lifecycle/owners";

/**
 * What an owner's plan decides for the portal (DESIGN.md, "Owners and plans", "Key holders:
 * the portal"): the limits and ceiling of the keys a key holder makes, and the owner as the
 * portal shows it.
 */

export interface PortalKeyDefaults {
  /** the new key's own limits: none (its owner's plan's `keyRatelimits` apply to a key with none) */
  ratelimits: RateLimit[];
  /** the new key's own credits: none (it draws from its owner's shared balance, when there is one) */
  credits: Credits | null;
  /**
   * The most a key holder may give a key: with a plan, the plan's `scopes` (null: no ceiling);
   * without one, the scopes the owner's usable keys (not revoked, not expired) already hold, so a
   * key holder can make keys like those the operator issued them, never more. An `admin` scope
   * is never within it (src/keys/scopes.ts).
   */
  scopeCeiling: string[] | null;
}

export async function portalKeyDefaults(services: Services, env: Env, ownerId: string, now = Date.now()): Promise<PortalKeyDefaults> {
  void services;
  // A key the portal makes sets no limits of its own: the plan's keyRatelimits apply to it, and
  // it draws from its owner's shared balance when there is one.
  const plan = (await findOwnerView(env.DB, ownerId))?.plan ?? null;
  if (plan) return { ratelimits: [], credits: null, scopeCeiling: plan.scopes };
  return { ratelimits: [], credits: null, scopeCeiling: await scopesHeldBy(getDb(env.DB), ownerId, now) };
}

/** The owner as the portal shows it: its name, plan, and shared limits and credits with what is left. */
export interface OwnerView {
  ownerId: string;
  /** null when the operator gave it none */
  name: string | null;
  /** the plan's id, or null */
  plan: string | null;
  /** the limits all the owner's keys share (named owner.<name>), with what is left */
  limits: LimitState[];
  /** the balance all the owner's keys draw from (its own, else its plan's), with what is left; null: none */
  credits: (CreditState & { refill: Credits["refill"] }) | null;
}

export async function ownerView(services: Services, env: Env, ownerId: string): Promise<OwnerView> {
  const found = await findOwnerView(env.DB, ownerId);
  if (!found) return { ownerId, name: null, plan: null, limits: [], credits: null };
  const live = await ownerLive(services, { owner: found.owner, plan: found.plan }, found.hasState);
  return { ownerId, name: found.owner.name, plan: found.plan?.id ?? null, limits: live.limits, credits: live.balance };
}
