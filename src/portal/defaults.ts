import type { Services } from "../context";
import type { Credits, RateLimit } from "../keys/record";
import type { LimitState, CreditState } from "../admission/budget";
import { getDb } from "../store/db";
import { scopesHeldBy } from "../store/keys";

/**
 * What an owner's plan will decide, decided here until owners and plans exist (DESIGN.md,
 * "Owners and plans"). The one place the owners and plans work fills in: each function says
 * what it answers today and what it will answer then.
 */

export interface PortalKeyDefaults {
  /** the new key's own limits: none today (the lineage has none; an owner's plan's `keyRatelimits` will apply then) */
  ratelimits: RateLimit[];
  /** the new key's own credits: none today (the owner's shared balance, when the plan gives one, will apply then) */
  credits: Credits | null;
  /**
   * The most a key holder may give a key: today the scopes the owner's usable keys (not revoked,
   * not expired) already hold, so a key holder can make keys like those the operator issued
   * them, never more; with a plan, the plan's `scopes` (null: no ceiling). An `admin` scope is
   * never within it (src/keys/scopes.ts).
   */
  scopeCeiling: string[] | null;
}

export async function portalKeyDefaults(services: Services, env: Env, ownerId: string, now = Date.now()): Promise<PortalKeyDefaults> {
  void services; // the owner's plan will come from here
  return { ratelimits: [], credits: null, scopeCeiling: await scopesHeldBy(getDb(env.DB), ownerId, now) };
}

/** The owner as the portal shows it: its name, plan, and shared limits and credits with what is left. */
export interface OwnerView {
  ownerId: string;
  /** null until owners have names */
  name: string | null;
  /** null until owners have plans */
  plan: string | null;
  /** the limits all the owner's keys share, with what is left: none until owners have them */
  limits: LimitState[];
  /** the balance all the owner's keys draw from: none until owners have one */
  credits: (CreditState & { refill: Credits["refill"] }) | null;
}

export async function ownerView(services: Services, env: Env, ownerId: string): Promise<OwnerView> {
  void services;
  void env;
  return { ownerId, name: null, plan: null, limits: [], credits: null };
}
