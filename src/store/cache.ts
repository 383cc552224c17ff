import { ProblemError } from "../errors";
import { findByHash } from "./keys";
import { getDb } from "./db";
import { Lru } from "./lru";
import type { StoredKey } from "./record";

/**
 * Key lookup through three tiers (docs/storage.md): isolate memory, then KV, then D1.
 * Unknown hashes are cached too (as null), so repeating a bogus key never reaches D1.
 * Staleness is bounded by KeyState: a record older than the object's version is refetched.
 */
export const CACHE = {
  /** in-isolate entries younger than this are served without a look elsewhere */
  freshMs: 10_000,
  /** older entries, up to this age, are served while a refresh runs in the background */
  staleMs: 300_000,
  maxEntries: 10_000,
  maxBytes: 8 * 1024 * 1024,
  kvTtlSeconds: 300,
  kvNegativeTtlSeconds: 60,
};

const KV_PREFIX = "key:";

interface Entry {
  key: StoredKey | null;
  fetchedAt: number;
}

const memory = new Lru<Entry>(CACHE.maxEntries, CACHE.maxBytes);
const inflight = new Map<string, Promise<StoredKey | null>>();

export interface KeyCacheEnv {
  DB: D1Database;
  KEY_CACHE: KVNamespace;
}

export type WaitUntil = (promise: Promise<unknown>) => void;

/** Resolves a hash to its key (null: no such key). Throws GATEWAY_UNAVAILABLE only with nothing cached. */
export async function lookupKey(env: KeyCacheEnv, hash: string, waitUntil: WaitUntil): Promise<StoredKey | null> {
  const entry = memory.get(hash);
  const age = entry ? Date.now() - entry.fetchedAt : Infinity;
  if (entry && age < CACHE.freshMs) return entry.key;
  if (entry && age < CACHE.staleMs) {
    waitUntil(load(env, hash, false, waitUntil).catch(() => undefined));
    return entry.key;
  }
  try {
    return await load(env, hash, false, waitUntil);
  } catch (err) {
    if (entry) return entry.key;
    throw err;
  }
}

/** Reads D1 directly (the record in cache is known to be stale) and refreshes both caches. */
export const refetchKey = (env: KeyCacheEnv, hash: string, waitUntil: WaitUntil): Promise<StoredKey | null> =>
  load(env, hash, true, waitUntil);

/** One load per hash at a time in an isolate: concurrent misses share it. */
function load(env: KeyCacheEnv, hash: string, skipKv: boolean, waitUntil: WaitUntil): Promise<StoredKey | null> {
  const flightKey = skipKv ? `d1:${hash}` : hash;
  let pending = inflight.get(flightKey);
  if (!pending) {
    pending = loadUncached(env, hash, skipKv, waitUntil).finally(() => inflight.delete(flightKey));
    inflight.set(flightKey, pending);
  }
  return pending;
}

async function loadUncached(
  env: KeyCacheEnv,
  hash: string,
  skipKv: boolean,
  waitUntil: WaitUntil,
): Promise<StoredKey | null> {
  if (!skipKv) {
    const cached = await readKv(env.KEY_CACHE, hash);
    if (cached !== undefined) {
      remember(hash, cached.key, cached.text.length);
      return cached.key;
    }
  }
  let key: StoredKey | null;
  try {
    key = await findByHash(getDb(env.DB), hash);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "key lookup in D1 failed", error: String(err) }));
    throw new ProblemError("GATEWAY_UNAVAILABLE", "Key storage is unreachable; try again shortly.", {
      headers: { "Retry-After": "5" },
    });
  }
  const text = storeKv(env.KEY_CACHE, hash, key, waitUntil);
  remember(hash, key, text.length);
  return key;
}

function remember(hash: string, key: StoredKey | null, bytes: number): void {
  memory.set(hash, { key, fetchedAt: Date.now() }, 160 + bytes * 2);
}

async function readKv(kv: KVNamespace, hash: string): Promise<{ key: StoredKey | null; text: string } | undefined> {
  try {
    const text = await kv.get(KV_PREFIX + hash, "text");
    if (text === null) return undefined;
    return { key: JSON.parse(text) as StoredKey | null, text };
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "KV read failed; falling through to D1", error: String(err) }));
    return undefined;
  }
}

/** Writes a record (or null for "no such key") to KV; never throws. Returns the text written. */
function storeKv(kv: KVNamespace, hash: string, key: StoredKey | null, waitUntil: WaitUntil): string {
  const text = JSON.stringify(key);
  waitUntil(writeKv(kv, hash, text, key ? CACHE.kvTtlSeconds : CACHE.kvNegativeTtlSeconds));
  return text;
}

/** A KV write that never fails its caller, whether the binding throws or rejects. */
async function writeKv(kv: KVNamespace, hash: string, text: string, expirationTtl: number): Promise<void> {
  try {
    await kv.put(KV_PREFIX + hash, text, { expirationTtl });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "KV write failed", error: String(err) }));
  }
}

/** After an admin change: this isolate and KV see the new record at once; KeyState covers the rest. */
export async function publishKey(env: KeyCacheEnv, key: StoredKey): Promise<void> {
  const text = JSON.stringify(key);
  remember(key.hash, key, text.length);
  await writeKv(env.KEY_CACHE, key.hash, text, CACHE.kvTtlSeconds);
}

/** For tests and the benchmark: how much the in-isolate cache holds. */
export const memoryCacheStats = () => ({ entries: memory.size, bytes: memory.weight });
export const clearMemoryCache = () => memory.clear();
