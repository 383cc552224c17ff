import { ProblemError } from "../errors";
import { findByHash, findWithOwner } from "./keys";
import { rememberOwner } from "./owner-cache";
import { getDb } from "./db";
import { Lru } from "./lru";
import type { StoredKey } from "../keys/record";

/**
 * Key lookup through three tiers (docs/storage.md): isolate memory, then KV, then D1.
 * Staleness is bounded by KeyState: a record older than the object's version is refetched,
 * so KV may keep records for a day. Unknown hashes are what an attacker can mint for free,
 * so their cost is bounded (DESIGN.md, "Consumer requests"): they are remembered in a
 * separate, smaller cache that can never push real keys out, never written to KV, and the D1
 * reads that first lookups may cause are rationed per isolate.
 */
export const CACHE = {
  /** in-isolate entries younger than this are served without a look elsewhere */
  freshMs: 10_000,
  /** older entries, up to this age, are served while a refresh runs in the background */
  staleMs: 300_000,
  maxEntries: 10_000,
  maxBytes: 8 * 1024 * 1024,
  kvTtlSeconds: 86_400,
  /** hashes known to match no key: how many this isolate remembers, and for how long */
  unknownMaxEntries: 20_000,
  unknownTtlMs: 600_000,
  /** D1 reads for hashes found in neither memory nor KV: a burst, then this many per second */
  d1Burst: 50,
  d1PerSecond: 10,
};

const KV_PREFIX = "key:";

interface Entry {
  key: StoredKey;
  fetchedAt: number;
}

const memory = new Lru<Entry>(CACHE.maxEntries, CACHE.maxBytes);
/** hash -> when it was found to match no key; its weight is the hash's UTF-16 bytes plus overhead */
const unknown = new Lru<number>(CACHE.unknownMaxEntries, CACHE.unknownMaxEntries * 256);
const UNKNOWN_WEIGHT = 64 * 2 + 64;
const inflight = new Map<string, Promise<StoredKey | null>>();
/** A token bucket: D1 reads for first lookups that this isolate may still make. */
const d1Budget = { tokens: CACHE.d1Burst, at: 0 };
let d1Lookups = 0;

export interface KeyCacheEnv {
  DB: D1Database;
  KEY_CACHE: KVNamespace;
}

export type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * Resolves a hash to its key (null: no such key). What this isolate's memory holds comes back
 * at once, without a promise (the hot path): a fresh record, a stale one (refreshed in the
 * background), or a hash known to match nothing. Otherwise a promise of the load. Throws
 * GATEWAY_UNAVAILABLE only with nothing cached.
 */
export function lookupKey(env: KeyCacheEnv, hash: string, waitUntil: WaitUntil): StoredKey | null | Promise<StoredKey | null> {
  const now = Date.now();
  const entry = memory.get(hash);
  if (entry) {
    const age = now - entry.fetchedAt;
    if (age < CACHE.freshMs) return entry.key;
    if (age < CACHE.staleMs) {
      waitUntil(load(env, hash, waitUntil).catch(() => undefined));
      return entry.key;
    }
  } else {
    const seen = unknown.get(hash);
    if (seen !== undefined && now - seen < CACHE.unknownTtlMs) return null;
  }
  return loadOrKeep(env, hash, waitUntil, entry);
}

/** A load that falls back on the expired record, if there is one, when storage fails. */
async function loadOrKeep(env: KeyCacheEnv, hash: string, waitUntil: WaitUntil, expired: Entry | undefined): Promise<StoredKey | null> {
  try {
    return await load(env, hash, waitUntil);
  } catch (err) {
    if (expired) return expired.key;
    throw err;
  }
}

/** Fresh D1 reads of a hash: the one running, and at most one queued behind it. */
const refetches = new Map<string, { running: Promise<StoredKey | null>; queued: Promise<StoredKey | null> | null }>();

/**
 * Reads D1 directly (the record in cache is known to be stale) and refreshes both caches. The
 * answer comes from a read that started after the call: a read already running may have started
 * before the change that made the caller's copy stale, so callers arriving during one share the
 * next read instead (at most one runs and one waits, however many requests come).
 */
export function refetchKey(env: KeyCacheEnv, hash: string, waitUntil: WaitUntil): Promise<StoredKey | null> {
  const flight = refetches.get(hash);
  if (!flight) {
    const running = loadUncached(env, hash, true, waitUntil).finally(() => {
      if (refetches.get(hash)?.running === running) refetches.delete(hash);
    });
    refetches.set(hash, { running, queued: null });
    return running;
  }
  flight.queued ??= flight.running
    .catch(() => undefined)
    .then(() => {
      if (refetches.get(hash) === flight) refetches.delete(hash);
      return refetchKey(env, hash, waitUntil);
    });
  return flight.queued;
}

/**
 * A record read from D1 now, for a caller that must not act on a cached copy: the admin API's
 * credentials, so that revoking an admin key takes effect at once. It costs what an unknown
 * consumer key costs (DESIGN.md, "Admin API"): a hash this isolate knows matches nothing is
 * answered from memory, and a hash it holds no record for takes one of the rationed D1 reads.
 */
export async function readKeyNow(env: KeyCacheEnv, hash: string): Promise<StoredKey | null> {
  const now = Date.now();
  if (!memory.get(hash)) {
    const seen = unknown.get(hash);
    if (seen !== undefined && now - seen < CACHE.unknownTtlMs) return null;
    if (!takeD1Read(now)) throw storageBusy();
  }
  d1Lookups++;
  const key = await findByHash(getDb(env.DB), hash);
  if (!key) {
    memory.delete(hash);
    unknown.set(hash, Date.now(), UNKNOWN_WEIGHT);
    return null;
  }
  remember(hash, key, JSON.stringify(key).length);
  return key;
}

const storageBusy = () => new ProblemError("GATEWAY_UNAVAILABLE", "Key storage is busy; try again shortly.", { headers: { "Retry-After": "1" } });

/** One load per hash at a time in an isolate: concurrent misses share it. */
function load(env: KeyCacheEnv, hash: string, waitUntil: WaitUntil): Promise<StoredKey | null> {
  let pending = inflight.get(hash);
  if (!pending) {
    pending = loadUncached(env, hash, false, waitUntil).finally(() => inflight.delete(hash));
    inflight.set(hash, pending);
  }
  return pending;
}

/** `known`: the key is known to exist and its cached copy to be stale, so D1 is read at once and unrationed. */
async function loadUncached(env: KeyCacheEnv, hash: string, known: boolean, waitUntil: WaitUntil): Promise<StoredKey | null> {
  if (!known) {
    const cached = await readKv(env.KEY_CACHE, hash);
    if (cached?.key === null) {
      unknown.set(hash, Date.now(), UNKNOWN_WEIGHT);
      return null;
    }
    if (cached) {
      remember(hash, cached.key, cached.text.length);
      return cached.key;
    }
    if (!takeD1Read(Date.now())) throw storageBusy();
  }
  d1Lookups++;
  const found = await findWithOwner(getDb(env.DB), hash);
  if (!found) {
    unknown.set(hash, Date.now(), UNKNOWN_WEIGHT);
    return null;
  }
  const { key, owner } = found;
  if (owner) rememberOwner(env, owner, waitUntil);
  const text = JSON.stringify(key);
  waitUntil(writeKv(env.KEY_CACHE, hash, text));
  remember(hash, key, text.length);
  return key;
}

function takeD1Read(now: number): boolean {
  d1Budget.tokens = Math.min(CACHE.d1Burst, d1Budget.tokens + ((now - d1Budget.at) / 1000) * CACHE.d1PerSecond);
  d1Budget.at = now;
  if (d1Budget.tokens < 1) return false;
  d1Budget.tokens -= 1;
  return true;
}

/**
 * Holds a record read from KV or D1. One with the same version (or an older one, from a KV
 * copy that lags a change this isolate made) keeps the object already held: versions only
 * grow, and what is worked out once per record (identity headers, assertions) then lasts as
 * long as the version does. Fields that change without a new version (usage counters, the
 * lagging credit copy) are not read on the hot path.
 */
function remember(hash: string, key: StoredKey, bytes: number): void {
  const held = memory.get(hash)?.key;
  hold(hash, held && held.id === key.id && held.version >= key.version ? held : key, bytes);
}

function hold(hash: string, key: StoredKey, bytes: number): void {
  unknown.delete(hash);
  memory.set(hash, { key, fetchedAt: Date.now() }, 160 + bytes * 2);
}

/**
 * A record from KV; undefined on a miss or a failure. `key: null` is a "no such key" entry,
 * which earlier versions of keygate wrote (for 60 s); keygate honours them but writes none.
 */
async function readKv(kv: KVNamespace, hash: string): Promise<{ key: StoredKey | null; text: string } | undefined> {
  try {
    const text = await kv.get(KV_PREFIX + hash, "text");
    return text === null ? undefined : { key: JSON.parse(text) as StoredKey | null, text };
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "KV read failed; falling through to D1", error: String(err) }));
    return undefined;
  }
}

/** A KV write that never fails its caller, whether the binding throws or rejects. */
async function writeKv(kv: KVNamespace, hash: string, text: string): Promise<void> {
  try {
    await kv.put(KV_PREFIX + hash, text, { expirationTtl: CACHE.kvTtlSeconds });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "KV write failed", error: String(err) }));
  }
}

/** After an admin change: this isolate and KV see the new record at once; KeyState covers the rest. */
export async function publishKey(env: KeyCacheEnv, key: StoredKey): Promise<void> {
  const text = JSON.stringify(key);
  hold(key.hash, key, text.length);
  await writeKv(env.KEY_CACHE, key.hash, text);
}

/** For tests and the benchmark: what the in-isolate caches hold, and how many D1 lookups this isolate made. */
export const memoryCacheStats = () => ({
  entries: memory.size,
  bytes: memory.weight,
  unknownEntries: unknown.size,
  unknownBytes: unknown.weight,
  d1Lookups,
});
export const clearMemoryCache = () => {
  memory.clear();
  unknown.clear();
};
