import type { OwnerView } from "../owners/record";
import { findOwnerView } from "./owners";
import { Lru } from "./lru";
interface KeyCacheEnv {
  DB: D1Database;
  KEY_CACHE: KVNamespace;
}
type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * Owners as the gateway reads them (with their plan): isolate memory, then KV, then D1, as key
 * records are (src/store/cache.ts). Staleness is bounded by the owner's version, which the
 * admission objects check: a view older than theirs is refetched from D1. Owner ids come from
 * stored keys only, never from a client, so they need no bound on unknown ones.
 */
const FRESH_MS = 10_000;
const STALE_MS = 300_000;
const KV_TTL_SECONDS = 86_400;
const KV_PREFIX = "owner:";

interface Entry {
  view: OwnerView | null;
  fetchedAt: number;
}

const memory = new Lru<Entry>(10_000, 8 * 1024 * 1024);
const inflight = new Map<string, Promise<OwnerView | null>>();
const refetches = new Map<string, { running: Promise<OwnerView | null>; queued: Promise<OwnerView | null> | null }>();

/** The owner (null: no record), at once from memory on the hot path, else a promise of the load. */
export function lookupOwner(env: KeyCacheEnv, id: string, waitUntil: WaitUntil): OwnerView | null | Promise<OwnerView | null> {
  const entry = memory.get(id);
  const now = Date.now();
  if (entry) {
    const age = now - entry.fetchedAt;
    if (age < FRESH_MS) return entry.view;
    if (age < STALE_MS) {
      waitUntil(load(env, id, false, waitUntil).catch(() => undefined));
      return entry.view;
    }
  }
  return load(env, id, false, waitUntil).catch((err) => {
    if (entry) return entry.view;
    throw err;
  });
}

/** Reads D1 (the view in cache is known to be stale), from a read that started after the call. */
export function refetchOwner(env: KeyCacheEnv, id: string, waitUntil: WaitUntil): Promise<OwnerView | null> {
  const flight = refetches.get(id);
  if (!flight) {
    const running = load(env, id, true, waitUntil).finally(() => {
      if (refetches.get(id)?.running === running) refetches.delete(id);
    });
    refetches.set(id, { running, queued: null });
    return running;
  }
  flight.queued ??= flight.running
    .catch(() => undefined)
    .then(() => {
      if (refetches.get(id) === flight) refetches.delete(id);
      return refetchOwner(env, id, waitUntil);
    });
  return flight.queued;
}

function load(env: KeyCacheEnv, id: string, fromD1: boolean, waitUntil: WaitUntil): Promise<OwnerView | null> {
  if (fromD1) return loadUncached(env, id, true, waitUntil);
  let pending = inflight.get(id);
  if (!pending) {
    pending = loadUncached(env, id, false, waitUntil).finally(() => inflight.delete(id));
    inflight.set(id, pending);
  }
  return pending;
}

async function loadUncached(env: KeyCacheEnv, id: string, fromD1: boolean, waitUntil: WaitUntil): Promise<OwnerView | null> {
  if (!fromD1) {
    const text = await readKv(env, id);
    if (text !== null) {
      const view = JSON.parse(text) as OwnerView;
      hold(id, view);
      return view;
    }
  }
  const found = await findOwnerView(env.DB, id);
  const view = found && { owner: found.owner, plan: found.plan };
  hold(id, view);
  if (view) waitUntil(writeKv(env, id, view));
  return view;
}

/** Holds a view; an older one (a KV copy that lags) never replaces a newer one held. */
function hold(id: string, view: OwnerView | null): void {
  const held = memory.get(id)?.view;
  const keep = held && view && (held.owner.version > view.owner.version || (held.owner.version === view.owner.version && (held.plan?.version ?? 0) > (view.plan?.version ?? 0)));
  memory.set(id, { view: keep ? held : view, fetchedAt: Date.now() }, 400 + JSON.stringify(view ?? null).length * 2);
}

/** A view from KV; null on a miss or a failure (thrown or rejected): D1 answers then. */
async function readKv(env: KeyCacheEnv, id: string): Promise<string | null> {
  try {
    return await env.KEY_CACHE.get(KV_PREFIX + id, "text");
  } catch {
    return null;
  }
}

async function writeKv(env: KeyCacheEnv, id: string, view: OwnerView): Promise<void> {
  try {
    await env.KEY_CACHE.put(KV_PREFIX + id, JSON.stringify(view), { expirationTtl: KV_TTL_SECONDS });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "KV write failed", error: String(err) }));
  }
}

/** After an owner or plan change: this isolate and KV see the new view at once; the owner's home covers the rest. */
export async function publishOwner(env: KeyCacheEnv, view: OwnerView): Promise<void> {
  memory.set(view.owner.id, { view, fetchedAt: Date.now() }, 400 + JSON.stringify(view).length * 2);
  await writeKv(env, view.owner.id, view);
}

/**
 * A view read from D1 with a key's record (one read for both, src/store/cache.ts): held here and
 * copied to KV, so the key's first request reads D1 once.
 */
export function rememberOwner(env: KeyCacheEnv, view: OwnerView, waitUntil: WaitUntil): void {
  hold(view.owner.id, view);
  waitUntil(writeKv(env, view.owner.id, view));
}

/** For tests: forget every owner this isolate holds. */
export const clearOwnerCache = () => memory.clear();
