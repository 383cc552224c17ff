import { ProblemError } from "../errors";
import { defaultPrefix, generateKey, hashKey, parseKey } from "../keys/format";
import { getDb, newId } from "../store/db";
import { findById, insertKey, rotateKey, updateKey } from "../store/keys";
import { publishKey } from "../store/cache";
import { keyStatus, type Credits, type StoredKey } from "../store/record";
import type { AuditContext } from "../store/audit";
import type { Services } from "../context";
import type { SyncRequest } from "../state/key-state";

/**
 * The key lifecycle behind the admin routes. Every change is one D1 batch with its audit
 * entry, guarded by the record's version; then this isolate's cache and KV get the new
 * record and the lineage's KeyState learns the new version, so every isolate sees the
 * change on its next request.
 */

export interface LifecycleEnv {
  env: Env;
  services: Services;
  audit: AuditContext;
}

/** D1 has one writer: each round of concurrent changes lands one, so a few rounds serialise a burst. */
const CONCURRENT_CHANGE_RETRIES = 8;

export interface NewKeyInput {
  name: string;
  ownerId: string;
  environment: "live" | "test";
  prefix?: string;
  scopes: string[];
  metadata: Record<string, unknown>;
  allowedIps: string[];
  ratelimits: StoredKey["ratelimits"];
  credits: Credits | null;
  expiresAt?: number | null;
  expiresIn?: number;
  enabled: boolean;
}

async function material(prefix: string): Promise<{ key: string; hash: string; start: string }> {
  const key = generateKey(prefix);
  return { key, hash: await hashKey(key), start: parseKey(key)!.start };
}

const keyLimitReached = (ownerId: string, max: number) =>
  new ProblemError(
    "KEY_LIMIT_REACHED",
    `Owner ${ownerId} already holds ${max} active keys (MAX_KEYS_PER_OWNER); revoke one first.`,
  );

export async function createKey(
  { env, services, audit }: LifecycleEnv,
  input: NewKeyInput,
): Promise<{ stored: StoredKey; key: string }> {
  const now = Date.now();
  const id = newId("key");
  const prefix = input.prefix ?? defaultPrefix(input.environment);
  const { key, hash, start } = await material(prefix);
  const stored: StoredKey = {
    id,
    hash,
    start,
    prefix,
    lineageId: id,
    name: input.name,
    ownerId: input.ownerId,
    environment: input.environment,
    scopes: input.scopes,
    metadata: input.metadata,
    allowedIps: input.allowedIps,
    ratelimits: input.ratelimits,
    credits: input.credits,
    expiresAt: input.expiresIn !== undefined ? now + input.expiresIn * 1000 : (input.expiresAt ?? null),
    enabled: input.enabled,
    revokedAt: null,
    rotatedFrom: null,
    lastUsedAt: null,
    usageCount: 0,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  const max = services.config.maxKeysPerOwner;
  if ((await insertKey(env.DB, stored, audit, max)) === "limit") {
    throw keyLimitReached(input.ownerId, max);
  }
  await announce({ env, services }, stored, { credits: stored.credits });
  return { stored, key };
}

export async function getKey(env: Env, id: string): Promise<StoredKey> {
  const key = await findById(getDb(env.DB), id);
  if (!key) throw new ProblemError("NOT_FOUND", `No key has the id ${id}.`);
  return key;
}

export type KeyPatch = Partial<
  Pick<StoredKey, "name" | "scopes" | "metadata" | "allowedIps" | "ratelimits" | "credits" | "expiresAt" | "enabled">
>;

export function updateKeyFields(ctx: LifecycleEnv, id: string, patch: KeyPatch): Promise<StoredKey> {
  return change(ctx, id, "key.update", (before) => {
    if (before.revokedAt !== null) throw new ProblemError("CONFLICT", "This key is revoked; a revoked key cannot be changed.");
    return { ...before, ...patch };
  });
}

export function revokeKey(ctx: LifecycleEnv, id: string): Promise<StoredKey> {
  return change(ctx, id, "key.revoke", (before, now) => (before.revokedAt !== null ? before : { ...before, revokedAt: now }));
}

/**
 * Applies `edit` to the current record and writes it if nobody changed the record in the
 * meantime; otherwise reads again and re-applies, so concurrent admin calls serialise.
 */
async function change(
  ctx: LifecycleEnv,
  id: string,
  action: "key.update" | "key.revoke",
  edit: (before: StoredKey, now: number) => StoredKey,
): Promise<StoredKey> {
  for (let attempt = 0; attempt < CONCURRENT_CHANGE_RETRIES; attempt++) {
    const before = await getKey(ctx.env, id);
    const now = Date.now();
    const edited = edit(before, now);
    if (!changed(before, edited)) return before;
    const after = { ...edited, version: before.version + 1, updatedAt: now };
    // Bringing an expired key back to life takes a slot like creating one (MAX_KEYS_PER_OWNER).
    const revives = keyStatus(before, now) !== "active" && keyStatus(after, now) === "active";
    const max = ctx.services.config.maxKeysPerOwner;
    const outcome = await updateKey(ctx.env.DB, before, after, ctx.audit, action, revives ? max : undefined);
    if (outcome === "limit") throw keyLimitReached(after.ownerId, max);
    if (outcome === "updated") {
      const creditsSet = JSON.stringify(before.credits) !== JSON.stringify(after.credits);
      await announce(ctx, after, creditsSet ? { credits: after.credits } : {});
      return after;
    }
  }
  throw new ProblemError("CONFLICT", "The key changed concurrently several times; retry the request.");
}

const changed = (a: StoredKey, b: StoredKey) => JSON.stringify(a) !== JSON.stringify(b);

export async function rotate(
  ctx: LifecycleEnv,
  id: string,
  gracePeriodSeconds: number,
): Promise<{ stored: StoredKey; key: string }> {
  for (let attempt = 0; attempt < CONCURRENT_CHANGE_RETRIES; attempt++) {
    const before = await getKey(ctx.env, id);
    const now = Date.now();
    const status = keyStatus(before, now);
    if (status !== "active") throw new ProblemError("CONFLICT", `This key is ${status}; only an active key can be rotated.`);
    // The grace period may shorten the old key's life, never lengthen it.
    const graceEnds = now + gracePeriodSeconds * 1000;
    const expiresAt = before.expiresAt === null ? graceEnds : Math.min(before.expiresAt, graceEnds);
    const after: StoredKey = { ...before, expiresAt, version: before.version + 1, updatedAt: now };
    const { key, hash, start } = await material(before.prefix);
    const successor: StoredKey = {
      ...before,
      id: newId("key"),
      hash,
      start,
      rotatedFrom: before.id,
      lastUsedAt: null,
      usageCount: 0,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    if (await rotateKey(ctx.env.DB, before, after, successor, ctx.audit)) {
      await Promise.all([announce(ctx, after, {}), announce(ctx, successor, {})]);
      return { stored: successor, key };
    }
  }
  throw new ProblemError("CONFLICT", "The key changed concurrently several times; retry the request.");
}

/** Publishes a committed record: this isolate's memory and KV, then the lineage's KeyState. */
async function announce(
  { env, services }: Pick<LifecycleEnv, "env" | "services">,
  key: StoredKey,
  extra: Pick<SyncRequest, "credits">,
): Promise<void> {
  await publishKey(env, key);
  try {
    await services.state.sync(key.lineageId, { keyId: key.id, version: key.version, ...extra });
  } catch (err) {
    // D1 holds the change; caches converge within their TTLs and the next sync heals KeyState.
    console.error(JSON.stringify({ level: "error", msg: "KeyState sync failed", keyId: key.id, error: String(err) }));
  }
}
