import type { Credits, RateLimit, StoredKey } from "../keys/record";
import { beyondCeiling } from "../keys/scopes";
import { ownerVersion } from "./version";

/**
 * Owners and plans as keygate holds them (DESIGN.md, "Owners and plans"), and what follows from
 * them for a key: its effective limits, what its owner's keys share, the scope ceiling and the
 * key count. Pure: the gateway, the admin API and the portal resolve a key the same way.
 */

/** A plan's shared balance for each of its owners: it starts at and is refilled to `amount`. */
export interface PlanCredits {
  amount: number;
  interval: "daily" | "monthly";
  day?: number;
}

export interface Plan {
  id: string;
  name: string;
  description: string | null;
  keyRatelimits: RateLimit[];
  ownerRatelimits: RateLimit[];
  ownerCredits: PlanCredits | null;
  maxKeys: number | null;
  scopes: string[] | null;
  version: number;
  createdAt: number;
  updatedAt: number;
  /** when its last change is in force for every owner at the latest */
  inForceBy: number | null;
}

export interface Owner {
  id: string;
  name: string | null;
  plan: string | null;
  /** null: the plan's */
  ratelimits: RateLimit[] | null;
  /** the balance an operator last set; null: the plan's, if it has one */
  credits: Credits | null;
  creditsVersion: number;
  metadata: Record<string, unknown>;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** An owner with its plan: what the gateway caches and every resolution below reads. */
export interface OwnerView {
  owner: Owner;
  plan: Plan | null;
}

/** The prefix of a shared limit's name, in headers, problems and the objects' ledgers. */
export const OWNER_LIMIT_PREFIX = "owner.";

/** The owner's and its plan's version, as the admission objects compare it. */
export const viewVersion = (view: OwnerView): string => ownerVersion(view.owner.version, view.plan?.version ?? null);

/** The limits all the owner's keys share: its own, else its plan's; named `owner.<name>`. */
export function sharedLimits(view: OwnerView): RateLimit[] {
  const limits = view.owner.ratelimits ?? view.plan?.ownerRatelimits ?? [];
  return limits.map((rl) => ({ ...rl, name: OWNER_LIMIT_PREFIX + rl.name }));
}

/** The shared balance's source: the one an operator set on the owner, else the plan's. */
export function sharedCredits(view: OwnerView): { credits: Credits; from: "owner" } | { credits: Credits; from: "plan" } | null {
  if (view.owner.credits) return { credits: view.owner.credits, from: "owner" };
  const plan = view.plan?.ownerCredits;
  if (!plan) return null;
  return { credits: { remaining: plan.amount, refill: { amount: plan.amount, interval: plan.interval, ...(plan.day ? { day: plan.day } : {}) } }, from: "plan" };
}

/** A key's own limits; when it has none, its owner's plan's `keyRatelimits`. */
export const keyLimits = (key: Pick<StoredKey, "ratelimits">, view: OwnerView | null): RateLimit[] =>
  key.ratelimits.length > 0 ? key.ratelimits : (view?.plan?.keyRatelimits ?? []);

/**
 * The scopes the plan's ceiling does not cover (none without a plan or a ceiling). As the portal
 * judges a ceiling (src/keys/scopes.ts): wildcards cover what they name, no ceiling covers `admin`.
 */
export const beyondPlan = (scopes: readonly string[], plan: Plan | null): string[] => (plan?.scopes ? beyondCeiling(plan.scopes, scopes) : []);

/** How many usable keys the owner may hold: its plan's `maxKeys`, else MAX_KEYS_PER_OWNER. */
export const maxKeysOf = (plan: Plan | null, fallback: number): number => plan?.maxKeys ?? fallback;
