import type { Credits, RateLimit, Refill } from "../keys/record";
import type { CommitOutcome, KeyWrite, Requirement } from "../store/lineage";
import type { AuditContext } from "../store/audit";
import type { CreditState, LimitState } from "./budget";
import type { Region } from "./regions";

/**
 * What the gateway, the admin API and a lineage's objects say to each other
 * (docs/consistency.md). Every call names the lineage, so an object can read it from D1 when
 * it must, and the caller's region, so the object knows where it stands.
 */
interface LineageCall {
  lineageId: string;
  /** the caller's region (null: unknown, a local stack) */
  region: Region | null;
}

/** What a request must fit of its owner's: the limits and credits all the owner's keys share. */
export interface OwnerPart {
  id: string;
  /** the version of the owner (and its plan) the gateway holds: `<owner version>.<plan version>` */
  version: string;
  /** the owner's shared limits, named `owner.<name>` */
  ratelimits: RateLimit[];
  /** whether the owner has a shared balance the request draws from */
  credits: boolean;
}

/** A consumer request to be admitted: one call, to the object of the request's region. */
export interface AdmitRequest extends LineageCall {
  keyId: string;
  /** the version of the record the gateway holds */
  version: number;
  ratelimits: RateLimit[];
  cost: number;
  /** the key's owner, when the gateway knows its record */
  owner?: OwnerPart;
  /** the abuse rule of the request's route (ABUSE_POLICY, or the route's `abuse`); absent: none */
  abuse?: { rateLimitedPerMinute: number; suspendSeconds: number };
}

export type AdmitResult =
  | { outcome: "STALE"; version: number; home: Region | null; owner?: false }
  /** the owner (or its plan) changed since the gateway read it */
  | { outcome: "STALE"; owner: true; home: Region | null }
  | {
      outcome: "OK" | "RATE_LIMITED" | "QUOTA_EXHAUSTED";
      limits: LimitState[];
      credits: CreditState | null;
      /** seconds, on a refusal */
      retryAfter?: number;
      /** the limit that refused the request */
      limit?: string;
      /** the region of the lineage's home, so the caller can go to its own region's object next time */
      home: Region | null;
    };

export interface PeekRequest extends LineageCall {
  keyId: string;
  ratelimits: RateLimit[];
}

export interface PeekResult {
  limits: LimitState[];
  credits: CreditState | null;
}

export interface VersionRequest extends LineageCall {
  keyId: string;
}

/**
 * An admin change handed to the lineage's home, which commits it to D1 itself (gated on the
 * lineage's `seq` and on `until`), takes it into its own state and tells every region before it
 * answers.
 */
export interface ChangeRequest extends LineageCall {
  /** the lineage's `seq` when the admin API planned the change */
  seq: number;
  /** unique per attempt */
  token: string;
  writes: KeyWrite[];
  /** present when the change sets the lineage's credits (a null value removes them) */
  credits?: { value: Credits | null };
  /** a condition the change needs (e.g. the owner's key limit), checked in the same batch */
  requires?: Requirement;
  audit: AuditContext;
  at: number;
  /** D1's clock must be before this when the batch runs, else it writes nothing (docs/consistency.md) */
  until: number;
}

export type ChangeResult = { outcome: CommitOutcome };

/**
 * Where a holder learned a limit: from a request of `keyId` at record `version` (a lineage's
 * limits), or of an owner at `owner` version (an owner's). The home grants nothing for a limit
 * learned from a version older than it knows: the limit may have changed since.
 */
export type LimitSource = { keyId: string; version: number } | { owner: string };

/** What a holder asks its ledger's home for, and reports. */
export interface LeaseWants {
  /** budgets wanted for the current windows of these limits, each as the holder learned it */
  wants: { limit: RateLimit; want: number; source?: LimitSource }[];
  /** budgets it holds of a limit since changed (another `limit` or window): given back before the home grants */
  returned?: { name: string; start: number; amount: number }[];
  /** credits wanted (0: none) */
  credits: number;
  /** credits spent out of budgets since the last lease, for the balance the home shows */
  spent: number;
  /** key versions the holder was asked about and does not know (a regional object's, of its lineage) */
  keys: string[];
}

/** A regional object asking its lineage's home for a lease and budgets. */
export interface LeaseRequest extends LineageCall, LeaseWants {
  region: Region;
}

/** A lineage's object (its home or a regional one) asking its owner's home for a lease and budgets. */
export interface OwnerLeaseRequest extends LeaseWants {
  ownerId: string;
  holder: { kind: "home" | "regional"; name: string; region: Region | null };
}

export interface Grant {
  name: string;
  /** the limit granted under: a budget is spent only on requests under the same limit */
  limit: number;
  start: number;
  windowMs: number;
  amount: number;
  /** the home's count for the window after this grant */
  count: number;
}

export interface LeaseGrant {
  /** how long the lease lasts, from when the holder sent its request */
  leaseMs: number;
  /** a lineage's home: where it is, its `seq`, and the newest version of every key D1 holds */
  home?: Region | null;
  seq?: number;
  versions?: Record<string, number>;
  /** an owner's home: the owner's (and its plan's) version, `<owner version>.<plan version>` */
  ownerVersion?: string;
  grants: Grant[];
  /** null when the lineage has no credits */
  credits: { epoch: number; amount: number; pool: number; refill: Refill | null; lastRefillAt: number } | null;
}

/** What a home tells its holders of a change it committed. */
export interface Apply {
  /** which ledger changed: a lineage's (told to its regional objects) or an owner's (told to its keys' objects) */
  from: "lineage" | "owner";
  /** a lineage's change: its `seq` and the versions it wrote */
  seq?: number;
  versions?: Record<string, number>;
  /** an owner's change: the owner's version after it */
  ownerVersion?: string;
  /** limits whose budgets the regions must give back (their settings changed) */
  limits: boolean;
  /** the credits were set: budgets granted before are void */
  credits: boolean;
}

/** Budgets a regional object gives back, per limit, for the windows they belong to. */
export interface Returned {
  limits: { name: string; start: number; amount: number }[];
  credits: { epoch: number; amount: number } | null;
}
