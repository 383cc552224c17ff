import { PROBLEMS, ProblemError, type ProblemCode } from "../errors";
import { hashKey, parseKey } from "../keys/format";
import { hashMaterial, isProblem, plaintextMaterial, type ImportedMaterial, type MaterialProblem } from "../keys/imported";
import type { StoredKey } from "../keys/record";
import { maxKeysOf, type Plan } from "../owners/record";
import { newId, storageUnavailable } from "../store/db";
import { diff } from "../store/audit";
import { untilPassed } from "../store/lineage";
import { keysHolding, keysLanded, readImportContext, writeImport, type ImportWrite } from "../store/import";
import { publishKey } from "../store/cache";
import { keyEvent } from "../events/raise";
import { queueEvents } from "../events/dispatch";
import { expiryOnCreate } from "./policy";
import { keyLimitReached, requireWithinCeiling, type LifecycleEnv, type NewKeyInput } from "./keys";

/**
 * POST /admin/keys/import (DESIGN.md, "Importing keys"): keys from elsewhere, each checked as a
 * create is (KEY_POLICY, the plan's scope ceiling, the owner's key count), written in D1
 * batches of many keys each, with an audit entry (`key.import`) and a `key.created` event per
 * key. The answer has one result per item, in order (docs/behaviour.md, "Importing keys").
 */

/** What an item asks for: the fields of a create, and exactly one of the plaintext or its hash. */
export type ImportItem = NewKeyInput & ({ key: string; hash?: undefined } | { hash: string; key?: undefined });

/** Why an item was not imported, as a problem+json would state it, without the HTTP parts. */
export interface ItemProblem {
  code: ProblemCode;
  title: string;
  detail: string;
  issues?: { path: string; message: string }[];
}

export interface ImportResult {
  index: number;
  status: "created" | "exists" | "invalid";
  /** created: the new key (absent in a dry run); exists: the key that holds the hash */
  id?: string;
  problem?: ItemProblem;
}

/** Serialised keys per D1 batch: each of its JSON parameters stays well under D1's 2 MB per value. */
export const IMPORT_BATCH_BYTES = 256 * 1024;
/** Events per hand-off to the queue (and per removal from the outbox: D1 binds at most 100 values a statement). */
const EVENTS_PER_SEND = 50;
/** KV writes under way at once while an import warms the cache. */
const KV_WRITES_AT_ONCE = 8;

export const itemProblem = (code: ProblemCode, detail: string, issues?: ItemProblem["issues"]): ItemProblem => ({
  code,
  title: PROBLEMS[code][1],
  detail,
  ...(issues ? { issues } : {}),
});

const fromError = (err: ProblemError): ItemProblem => {
  const issues = err.options.extensions?.issues as ItemProblem["issues"] | undefined;
  return itemProblem(err.code, err.detail, issues);
};

const fromMaterial = (m: MaterialProblem): ItemProblem => itemProblem(m.code, `${m.path}: ${m.message}`, [{ path: m.path, message: m.message }]);

const invalidField = (path: string, message: string) => itemProblem("VALIDATION_FAILED", `${path}: ${message}`, [{ path, message }]);

/** A key in keygate's own format keeps keygate's rules: its prefix is the key's, and names the key's environment. */
function ownFormatProblem(item: ImportItem, own: ImportedMaterial): ItemProblem | null {
  if (item.key === undefined || !parseKey(item.key)) return null;
  if (item.prefix !== undefined && item.prefix !== own.prefix) return invalidField("prefix", `the key's own prefix is ${own.prefix}: leave prefix out, or give that`);
  const other = item.environment === "live" ? "_test" : "_live";
  if (own.prefix.endsWith(other)) {
    return invalidField("environment", `the key's prefix ${own.prefix} names the ${other.slice(1)} environment: give environment "${other.slice(1)}"`);
  }
  return null;
}

async function materialOf(item: ImportItem, prefixes: readonly string[]): Promise<ImportedMaterial | ItemProblem> {
  const material = item.key !== undefined ? plaintextMaterial(item.key, prefixes, await hashKey(item.key)) : hashMaterial(item.hash);
  if (isProblem(material)) return fromMaterial(material);
  return ownFormatProblem(item, material) ?? material;
}

const isItemProblem = (value: ImportedMaterial | ItemProblem): value is ItemProblem => "title" in value;

/** A key the import means to write, for the item at `index`. */
interface Planned {
  index: number;
  write: ImportWrite;
  plan: Plan | null;
}

/** An item as the route hands it over: validated as a create's fields, or the problem found doing so. */
export type ImportInput = { item: ImportItem } | { problem: ItemProblem };

/**
 * Imports `items` (each already validated as a create's fields, or a problem found doing so).
 * With `dryRun`, decides every item as it would and writes nothing.
 */
export async function importKeys(ctx: LifecycleEnv, inputs: ImportInput[], dryRun: boolean): Promise<ImportResult[]> {
  const { config } = ctx.services;
  const now = Date.now();
  const results: ImportResult[] = inputs.map((_, index) => ({ index, status: "invalid" }));
  const prepared = await Promise.all(
    inputs.map(async (input) => ("problem" in input ? input : { item: input.item, material: await materialOf(input.item, config.importedKeyPrefixes) })),
  );

  const candidates: { index: number; item: ImportItem; material: ImportedMaterial }[] = [];
  prepared.forEach((p, index) => {
    if ("problem" in p) results[index].problem = p.problem;
    else if (isItemProblem(p.material)) results[index].problem = p.material;
    else candidates.push({ index, item: p.item, material: p.material });
  });
  if (candidates.length === 0) return results;

  const context = await readImportContext(
    ctx.env.DB,
    [...new Set(candidates.map((c) => c.material.hash))],
    [...new Set(candidates.map((c) => c.item.ownerId))],
    now,
  ).catch((err) => {
    throw storageUnavailable(err);
  });

  const planned: Planned[] = [];
  /** hash -> the index of the item in this call that plans it */
  const plannedHashes = new Map<string, number>();
  /** index of a later item -> the earlier item that is to create the same key (its outcome decides theirs) */
  const sameAs = new Map<number, number>();
  const newKeysOf = new Map<string, number>();
  for (const { index, item, material } of candidates) {
    const held = context.existing.get(material.hash);
    if (held !== undefined) {
      results[index] = { index, status: "exists", id: held };
      continue;
    }
    const earlier = plannedHashes.get(material.hash);
    if (earlier !== undefined) {
      sameAs.set(index, earlier);
      continue;
    }
    const plan = context.plans.get(item.ownerId) ?? null;
    const decided = decide(ctx, item, material, plan, (context.activeKeys.get(item.ownerId) ?? 0) + (newKeysOf.get(item.ownerId) ?? 0), now);
    if ("code" in decided) {
      results[index].problem = decided;
      continue;
    }
    plannedHashes.set(material.hash, index);
    newKeysOf.set(item.ownerId, (newKeysOf.get(item.ownerId) ?? 0) + 1);
    planned.push({ index, write: decided, plan });
  }

  if (dryRun) {
    for (const { index } of planned) results[index] = { index, status: "created" };
  } else {
    for (const batch of batches(planned)) await writeBatch(ctx, batch, results, now);
  }
  for (const [index, earlier] of sameAs) {
    const first = results[earlier];
    results[index] = first.status === "invalid" ? { ...first, index } : { index, status: "exists", ...(first.id ? { id: first.id } : {}) };
  }
  return results;
}

/** The record an item makes, or why it may not be made: KEY_POLICY, the plan's ceiling, the owner's key count. */
function decide(
  ctx: LifecycleEnv,
  item: ImportItem,
  material: ImportedMaterial,
  plan: Plan | null,
  /** the owner's usable keys, those this call means to write before this one included */
  held: number,
  now: number,
): ImportWrite | ItemProblem {
  const { config } = ctx.services;
  const max = maxKeysOf(plan, config.maxKeysPerOwner);
  let key: StoredKey;
  try {
    const expiresAt = expiryOnCreate(
      config.keyPolicy,
      item.environment,
      item.expiresIn !== undefined ? now + item.expiresIn * 1000 : (item.expiresAt ?? null),
      now,
    );
    requireWithinCeiling(item.scopes, plan);
    if (held >= max) throw keyLimitReached(item.ownerId, max, plan);
    const id = newId("key");
    key = {
      id,
      hash: material.hash,
      start: material.start,
      prefix: material.prefix || (item.prefix ?? ""),
      lineageId: id,
      name: item.name,
      ownerId: item.ownerId,
      environment: item.environment,
      scopes: item.scopes,
      metadata: item.metadata,
      allowedIps: item.allowedIps,
      ratelimits: item.ratelimits,
      credits: item.credits,
      expiresAt,
      enabled: item.enabled,
      revokedAt: null,
      rotatedFrom: null,
      suspendedUntil: null,
      imported: true,
      lastUsedAt: null,
      usageCount: 0,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
  } catch (err) {
    if (err instanceof ProblemError) return fromError(err);
    throw err;
  }
  return {
    key,
    max,
    ordinal: 0,
    auditId: newId("aud"),
    changes: { ...diff(null, key), imported: { from: null, to: item.key !== undefined ? "key" : "hash" } },
    event: keyEvent("key.created", key, {}, now),
  };
}

/** Planned keys in D1 batches of at most IMPORT_BATCH_BYTES of records each, each key numbered among its owner's in its batch. */
function batches(planned: Planned[]): Planned[][] {
  const out: Planned[][] = [];
  let current: Planned[] = [];
  let bytes = 0;
  for (const p of planned) {
    const size = JSON.stringify(p.write.key).length;
    if (current.length > 0 && bytes + size > IMPORT_BATCH_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(p);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  for (const batch of out) {
    const seen = new Map<string, number>();
    for (const { write } of batch) {
      const n = (seen.get(write.key.ownerId) ?? 0) + 1;
      seen.set(write.key.ownerId, n);
      write.ordinal = n;
    }
  }
  return out;
}

const notWritten = () =>
  itemProblem(
    "GATEWAY_UNAVAILABLE",
    "Key storage failed while writing the batch this key was in, and nothing of that batch was written: import it again (keys that did land are then reported as exists).",
  );

/**
 * One D1 batch. When D1 fails, or answers that the batch came too late, nothing of it was
 * written; when D1's answer is lost, the batch may have landed after all, so the call waits
 * until the batch's time has passed on D1's clock, then reads which keys it holds.
 */
async function writeBatch(ctx: LifecycleEnv, batch: Planned[], results: ImportResult[], now: number): Promise<void> {
  const { env, services, audit } = ctx;
  const writes = batch.map((p) => p.write);
  const until = Date.now() + services.config.changeTimeoutMs;
  let landed: Set<string>;
  let failed: boolean;
  try {
    const answer = await writeImport(env.DB, writes, audit, { token: newId("chg"), at: now, until, now });
    landed = answer.landed;
    failed = answer.late;
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "an import batch failed; settling it from D1", keys: writes.length, error: String(err) }));
    failed = true;
    try {
      await untilPassed(env.DB, until);
      landed = await keysLanded(env.DB, writes.map((w) => w.key.id));
    } catch {
      throw storageUnavailable(err);
    }
  }
  const missed = batch.filter((p) => !landed.has(p.write.key.id));
  // Not landed though the batch ran in time: another call took the hash or the owner's last slot
  // meanwhile. Should D1 not say which, the item is one to import again.
  const heldNow = !failed && missed.length > 0 ? await keysHolding(env.DB, missed.map((p) => p.write.key.hash)).catch(() => null) : new Map<string, string>();
  for (const { index, write, plan } of batch) {
    const { key } = write;
    if (landed.has(key.id)) results[index] = { index, status: "created", id: key.id };
    else if (heldNow?.has(key.hash)) results[index] = { index, status: "exists", id: heldNow.get(key.hash)! };
    else if (failed || heldNow === null) results[index] = { index, status: "invalid", problem: notWritten() };
    else results[index] = { index, status: "invalid", problem: fromError(keyLimitReached(key.ownerId, write.max, plan)) };
  }
  const written = writes.filter((w) => landed.has(w.key.id));
  if (written.length === 0) return;
  ctx.waitUntil(sendEvents(env, written.map((w) => w.event)));
  ctx.waitUntil(warmCache(env, written.map((w) => w.key)));
}

/** The events are in the outbox with their keys; the queue takes them from here, a few at a time. */
async function sendEvents(env: Env, events: ImportWrite["event"][]): Promise<void> {
  for (let i = 0; i < events.length; i += EVENTS_PER_SEND) await queueEvents(env, events.slice(i, i + EVENTS_PER_SEND));
}

/**
 * Writes the new records to this isolate's memory and to KV, as a create does, so the gateway's
 * first requests with imported keys need no rationed D1 read. Best effort: a key KV lacks is read
 * from D1 on its first request.
 */
async function warmCache(env: Env, keys: StoredKey[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) await publishKey(env, keys[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(KV_WRITES_AT_ONCE, keys.length) }, worker));
}
