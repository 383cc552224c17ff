import type { Environment } from "../keys/format";
import type { KeyRow } from "./schema";

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
  start: string;
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
  start: string;
  scopes: string[];
  metadata: Record<string, unknown>;
  allowedIps: string[];
  ratelimits: RateLimit[];
  credits: Credits | null;
  expiresAt: string | null;
  enabled: boolean;
  revokedAt: string | null;
  rotatedFrom: string | null;
  lastUsedAt: string | null;
  usageCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function fromRow(row: KeyRow): StoredKey {
  return {
    ...row,
    scopes: JSON.parse(row.scopes),
    metadata: JSON.parse(row.metadata),
    allowedIps: JSON.parse(row.allowedIps),
    ratelimits: JSON.parse(row.ratelimits),
    credits: row.credits === null ? null : JSON.parse(row.credits),
  };
}

export function toRow(key: StoredKey): KeyRow {
  return {
    ...key,
    scopes: JSON.stringify(key.scopes),
    metadata: JSON.stringify(key.metadata),
    allowedIps: JSON.stringify(key.allowedIps),
    ratelimits: JSON.stringify(key.ratelimits),
    credits: key.credits === null ? null : JSON.stringify(key.credits),
  };
}

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
    lastUsedAt: iso(key.lastUsedAt),
    usageCount: key.usageCount,
    version: key.version,
    createdAt: iso(key.createdAt)!,
    updatedAt: iso(key.updatedAt)!,
  };
}

export type KeyStatus = "active" | "revoked" | "expired";

export function keyStatus(key: Pick<StoredKey, "revokedAt" | "expiresAt">, now: number): KeyStatus {
  if (key.revokedAt !== null) return "revoked";
  if (key.expiresAt !== null && key.expiresAt <= now) return "expired";
  return "active";
}
