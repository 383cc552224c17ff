import type { Environment } from "./format";

export interface RateLimit {
  name: string;
  limit: number;
  windowSeconds: number;
}

export interface Refill {
  amount: number;
  interval: "daily" | "monthly";
  day?: number;
}

export interface Credits {
  remaining: number;
  refill: Refill | null;
}

/** A key as keygate holds it internally (D1 row with JSON parsed); cached in memory and KV. */
export interface StoredKey {
  id: string;
  hash: string;
  /** what may be shown of the key; null for a key imported by its hash alone */
  start: string | null;
  /** the keygate prefix a rotation's successor gets; "" for an imported key without one (the environment's default serves) */
  prefix: string;
  lineageId: string;
  name: string;
  ownerId: string;
  environment: Environment;
  scopes: string[];
  metadata: Record<string, unknown>;
  allowedIps: string[];
  ratelimits: RateLimit[];
  credits: Credits | null;
  expiresAt: number | null;
  enabled: boolean;
  revokedAt: number | null;
  rotatedFrom: string | null;
  /**
   * Until when the abuse rule suspended the key (ms), or null. Records cached before keygate
   * knew the field lack it: read it as `suspendedUntil ?? null`.
   */
  suspendedUntil: number | null;
  /**
   * Whether the key came in through the import (DESIGN.md, "Importing keys"). Records cached
   * before keygate knew the field lack it: read it as `imported ?? false`.
   */
  imported: boolean;
  lastUsedAt: number | null;
  usageCount: number;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** The admin API's shape (DESIGN.md, "Key record"): no hash, ISO times. */
export interface KeyRecord {
  id: string;
  name: string;
  ownerId: string;
  environment: Environment;
  start: string | null;
  scopes: string[];
  metadata: Record<string, unknown>;
  allowedIps: string[];
  ratelimits: RateLimit[];
  credits: Credits | null;
  expiresAt: string | null;
  enabled: boolean;
  revokedAt: string | null;
  rotatedFrom: string | null;
  suspendedUntil: string | null;
  imported: boolean;
  lastUsedAt: string | null;
  usageCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function toRecord(key: StoredKey): KeyRecord {
  return {
    id: key.id,
    name: key.name,
    ownerId: key.ownerId,
    environment: key.environment,
    start: key.start,
    scopes: key.scopes,
    metadata: key.metadata,
    allowedIps: key.allowedIps,
    ratelimits: key.ratelimits,
    credits: key.credits,
    expiresAt: iso(key.expiresAt),
    enabled: key.enabled,
    revokedAt: iso(key.revokedAt),
    rotatedFrom: key.rotatedFrom,
    suspendedUntil: iso(key.suspendedUntil ?? null),
    imported: key.imported ?? false,
    lastUsedAt: iso(key.lastUsedAt),
    usageCount: key.usageCount,
    version: key.version,
    createdAt: iso(key.createdAt)!,
    updatedAt: iso(key.updatedAt)!,
  };
}

export type KeyStatus = "active" | "revoked" | "expired";

export function keyStatus(key: Pick<StoredKey, "revokedAt" | "expiresAt" | "updatedAt">, now: number): KeyStatus {
  if (key.revokedAt !== null) return "revoked";
  // as keys/verify.ts judges it: expired by the change that set it, or by the clock
  if (key.expiresAt !== null && (key.expiresAt <= now || key.expiresAt <= key.updatedAt)) return "expired";
  return "active";
}
