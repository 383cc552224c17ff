import { ProblemError } from "../errors";
import { defaultPrefix, generateKey, hashKey, parseKey } from "../keys/format";
import { getDb, newId, storageUnavailable } from "../store/db";
import { findById } from "../store/keys";
import { commitChange, loadLineageOf, settleLostCommit, type CommitOutcome, type KeyWrite, type Lineage, type LineageChange, type Requirement } from "../store/lineage";
import { publishKey } from "../store/cache";
import { keyStatus, toRecord, type Credits, type StoredKey } from "../keys/record";
import type { AuditContext } from "../store/audit";
import { ensureOwner, findOwnerView } from "../store/owners";
import { beyondPlan, maxKeysOf, type Plan } from "../owners/record";
import type { Services } from "../context";
import { StateUnavailableError } from "../admission/client";
import { keyEvent, keyUpdated } from "../events/raise";
import { queueEvents } from "../events/dispatch";
import { checkExpiryChange, expiryOnCreate, expiryOnRotate } from "./policy";

/**
 * The key lifecycle behind the admin routes. Every change is one D1 batch with its audit
 * entries, committed against the key's lineage: by the lineage's home when it exists, which
 * tells every region before it answers, so the change is in force on the next request in every
 * isolate and region. The protocol and the interleavings it survives are in docs/consistency.md.
 */

export interface LifecycleEnv {
  env: Env;
  services: Services;
  audit: AuditContext;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** D1 has one writer: each round of concurrent changes lands one, so a few rounds serialise a burst. */
const CONCURRENT_CHANGE_RETRIES = 8;
/** Attempts to reach the lineage's home before giving up, and the pause before each retry. */
const STATE_ATTEMPTS = 3;
const STATE_RETRY_PAUSE_MS = 100;

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

export const keyLimitReached = (ownerId: string, max: number, plan: Plan | null) =>
  new ProblemError(
    "KEY_LIMIT_REACHED",
    `Owner ${ownerId} already holds ${max} usable keys (${plan?.maxKeys != null ? `plan ${plan.id}'s maxKeys` : "MAX_KEYS_PER_OWNER"}); revoke one first.`,
  );

/** The owner's plan as D1 holds it now (null: no plan, or no owner record yet). */
async function planOf(env: Env, ownerId: string): Promise<Plan | null> {
  return (await findOwnerView(env.DB, ownerId))?.plan ?? null;
}

/** 403 SCOPE_NOT_ALLOWED when the scopes go beyond the plan's ceiling (DESIGN.md, "Owners and plans"). */
export function requireWithinCeiling(scopes: readonly string[], plan: Plan | null, keyId?: string): void {
  const beyond = beyondPlan(scopes, plan);
  if (beyond.length === 0) return;
  throw new ProblemError(
    "SCOPE_NOT_ALLOWED",
    `${beyond.join(", ")} ${beyond.length === 1 ? "is" : "are"} beyond what plan ${plan!.id} allows its keys (${plan!.scopes!.join(", ") || "no scopes"}).`,
    { extensions: { keys: keyId ? [{ id: keyId, scopes: beyond }] : [], scopes: beyond } },
  );
}

const notFound = (id: string) => new ProblemError("NOT_FOUND", `No key has the id ${id}.`);

/** A key and its lineage as D1 holds them now. */
export async function loadKey(env: Env, id: string): Promise<{ key: StoredKey; lineage: Lineage }> {
  const lineage = await loadLineageOf(env.DB, id);
  const key = lineage?.keys.find((k) => k.id === id);
  if (!lineage || !key) throw notFound(id);
  return { key, lineage };
}

/** One key as D1 holds it now (without its lineage). */
export async function getKey(env: Env, id: string): Promise<StoredKey> {
  const key = await findById(getDb(env.DB), id);
  if (!key) throw notFound(id);
  return key;
}

/** Creating a key creates its lineage; its KeyState object is left for the first consumer request to create. */
export async function createKey(ctx: LifecycleEnv, input: NewKeyInput): Promise<{ stored: StoredKey; key: string }> {
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
    expiresAt: expiryOnCreate(
      ctx.services.config.keyPolicy,
      input.environment,
      input.expiresIn !== undefined ? now + input.expiresIn * 1000 : (input.expiresAt ?? null),
      now,
    ),
    enabled: input.enabled,
    revokedAt: null,
    rotatedFrom: null,
    suspendedUntil: null,
    imported: false,
    lastUsedAt: null,
    usageCount: 0,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  const plan = await planOf(ctx.env, stored.ownerId);
  requireWithinCeiling(stored.scopes, plan);
  const max = maxKeysOf(plan, ctx.services.config.maxKeysPerOwner);
  // The owner exists from its first key on (with no plan and nothing shared).
  await getDb(ctx.env.DB).run(ensureOwner(stored.ownerId, now)).catch((err) => {
    throw storageUnavailable(err);
  });
  const lineage: Lineage = { id, seq: 0, hasState: false, credits: null, creditsVersion: 0, keys: [] };
  const created = await commitTold(ctx, lineage, {
    writes: [{ before: null, after: stored, action: "key.create", events: [keyEvent("key.created", stored, {}, now)] }],
    credits: stored.credits,
    requires: limitGuard(stored.ownerId, now, max),
    onRefused: () => keyLimitReached(stored.ownerId, max, plan),
    at: now,
  });
  // A new lineage's row cannot have moved, so this is only ever a refusal, thrown above.
  if (!created) throw new ProblemError("CONFLICT", "The key could not be created; retry the request.");
  return { stored, key };
}

/**
 * A change as PATCH sends it: `credits.refill` left out keeps the lineage's refill;
 * `suspendedUntil: null` lifts a suspension (the abuse rule alone sets one).
 */
export type KeyPatch = Partial<
  Pick<StoredKey, "name" | "scopes" | "metadata" | "allowedIps" | "ratelimits" | "expiresAt" | "enabled"> & {
    credits: (Omit<Credits, "refill"> & { refill?: Credits["refill"] }) | null;
    suspendedUntil: null;
  }
>;

type ResolvedPatch = Omit<KeyPatch, "credits"> & { credits?: Credits | null };

/** The patch with its credits made whole: a balance sent without `refill` keeps the refill the key has. */
function resolveCredits(patch: KeyPatch, target: StoredKey): ResolvedPatch {
  const { credits, ...rest } = patch;
  if (credits === undefined) return rest;
  if (credits === null) return { ...rest, credits: null };
  return { ...rest, credits: { remaining: credits.remaining, refill: credits.refill === undefined ? (target.credits?.refill ?? null) : credits.refill } };
}

/** Fields that belong to the lineage: a change to them changes every key of the lineage. */
const LINEAGE_FIELDS = ["ratelimits", "credits"] as const;

/** A key as an admin change left it, with its lineage as that change left it. */
export interface Changed {
  key: StoredKey;
  lineage: Lineage;
}

export async function updateKeyFields(ctx: LifecycleEnv, id: string, sent: KeyPatch): Promise<Changed> {
  const { written, lineage } = await changeLineage(ctx, id, async (lineage, target, now) => {
    if (target.revokedAt !== null) throw new ProblemError("CONFLICT", "This key is revoked; a revoked key cannot be changed.");
    const plan = sent.scopes !== undefined || "expiresAt" in sent || sent.enabled !== undefined ? await planOf(ctx.env, target.ownerId) : null;
    if (sent.scopes !== undefined) requireWithinCeiling(sent.scopes, plan, target.id);
    const max = maxKeysOf(plan, ctx.services.config.maxKeysPerOwner);
    const patch = resolveCredits(sent, target);
    const shared = Object.fromEntries(LINEAGE_FIELDS.filter((f) => f in patch).map((f) => [f, patch[f]])) as ResolvedPatch;
    if ("expiresAt" in patch) {
      keepRetired(lineage, target, patch.expiresAt ?? null);
      checkExpiryChange(ctx.services.config.keyPolicy, target, patch.expiresAt ?? null);
    }
    const setsCredits = "credits" in patch;
    const writes: KeyWrite[] = [];
    // The target first (its audit entry tells whether the change landed), then the rest of its lineage.
    for (const key of [target, ...lineage.keys.filter((k) => k.id !== target.id && k.revokedAt === null)]) {
      const after = { ...key, ...(key === target ? patch : shared) };
      if (setsCredits || changed(key, after)) {
        const bumped = bump(after, now);
        writes.push({ before: key, after: bumped, action: "key.update", events: [keyUpdated(key, bumped, now)] });
      }
    }
    if (writes.length === 0) return null;
    // Bringing an expired key back to life takes a slot like creating one (MAX_KEYS_PER_OWNER).
    const revives = keyStatus(target, now) !== "active" && keyStatus(writes[0].after, now) === "active";
    return {
      writes,
      ...(setsCredits ? { credits: patch.credits ?? null } : {}),
      ...(revives ? { requires: limitGuard(target.ownerId, now, max), onRefused: () => keyLimitReached(target.ownerId, max, plan) } : {}),
    };
  });
  return { key: written.get(id)!, lineage };
}

/**
 * A key a rotation retired (one with a successor) never comes back (DESIGN.md, "Consistency"):
 * its expiry may be brought forward, never moved later or removed, so the grace the rotation
 * gave (or the end a later rotation set) is the most it keeps. Checked in the plan, against the
 * lineage as this attempt read it, so a PATCH that races a rotation is judged after it.
 */
function keepRetired(lineage: Lineage, target: StoredKey, expiresAt: number | null): void {
  const successor = lineage.keys.find((k) => k.rotatedFrom === target.id);
  if (!successor || target.expiresAt === null) return;
  if (expiresAt !== null && expiresAt <= target.expiresAt) return;
  throw new ProblemError(
    "CONFLICT",
    `This key was rotated to ${successor.id}: its expiry may be brought forward, never extended or removed, so it cannot ` +
      `come back. Change ${successor.id} instead, or rotate it.`,
  );
}

export async function revokeKey(ctx: LifecycleEnv, id: string): Promise<Changed> {
  const { written, lineage } = await changeLineage(ctx, id, (_, target, now) => {
    if (target.revokedAt !== null) return null;
    const after = bump({ ...target, revokedAt: now }, now);
    return { writes: [{ before: target, after, action: "key.revoke", events: [keyEvent("key.revoked", after, {}, now)] }] };
  });
  return { key: written.get(id)!, lineage };
}

/**
 * Issues a successor in the same lineage. Only the lineage's newest key can be rotated, and
 * rotating ends the grace period of any older key still in one, so a lineage never has more
 * than two usable keys.
 */
export async function rotate(
  ctx: LifecycleEnv,
  id: string,
  gracePeriodSeconds: number,
): Promise<Changed & { secret: string }> {
  let issued: { id: string; key: string } | null = null;
  const { written, lineage } = await changeLineage(ctx, id, async (lineage, target, now) => {
    const status = keyStatus(target, now);
    if (status !== "active") throw new ProblemError("CONFLICT", `This key is ${status}; only an active key can be rotated.`);
    const successorOf = lineage.keys.find((k) => k.rotatedFrom === target.id);
    if (successorOf) {
      throw new ProblemError(
        "CONFLICT",
        `This key was already rotated to ${successorOf.id} and is in its grace period; rotate ${successorOf.id} instead.`,
      );
    }
    // The grace period may shorten the old key's life, never lengthen it.
    const graceEnds = now + gracePeriodSeconds * 1000;
    const expiresAt = target.expiresAt === null ? graceEnds : Math.min(target.expiresAt, graceEnds);
    // An imported key without a keygate prefix is succeeded by a key of keygate's own format.
    const { key, hash, start } = await material(target.prefix || defaultPrefix(target.environment));
    const successor: StoredKey = {
      ...target,
      id: newId("key"),
      hash,
      start,
      prefix: target.prefix || defaultPrefix(target.environment),
      expiresAt: expiryOnRotate(ctx.services.config.keyPolicy, target.environment, target.expiresAt, now),
      rotatedFrom: target.id,
      imported: false,
      lastUsedAt: null,
      usageCount: 0,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    issued = { id: successor.id, key };
    const graceEnded = lineage.keys
      .filter((k) => k.id !== target.id && keyStatus(k, now) === "active")
      .map((k): KeyWrite => {
        const after = bump({ ...k, expiresAt: now }, now);
        return { before: k, after, action: "key.update", events: [keyUpdated(k, after, now)] };
      });
    const retired = bump({ ...target, expiresAt }, now);
    return {
      writes: [
        {
          before: target,
          after: retired,
          action: "key.rotate",
          note: { rotatedTo: { from: null, to: successor.id } },
          events: [keyEvent("key.rotated", successor, { previousKey: toRecord(retired) }, now)],
        },
        { before: null, after: successor, action: "key.create" },
        ...graceEnded,
      ],
    };
  });
  const { id: successorId, key } = issued!;
  return { key: written.get(successorId)!, lineage, secret: key };
}

export const bump = (key: StoredKey, now: number): StoredKey => ({ ...key, version: key.version + 1, updatedAt: now });

const changed = (a: StoredKey, b: StoredKey) => JSON.stringify(a) !== JSON.stringify(b);

const limitGuard = (ownerId: string, now: number, max: number): Requirement => ({ ownerBelow: { ownerId, max, now } });

export interface PlannedChange {
  writes: KeyWrite[];
  /** present when the change sets the lineage's credits */
  credits?: Credits | null;
  requires?: Requirement;
  onRefused?: () => ProblemError;
}

/**
 * Applies `plan` to the key's lineage as D1 holds it and commits the result; when another
 * change got there first, reads again and re-applies, so concurrent admin calls serialise.
 * Returns every record the change wrote (or the key unchanged when the plan is null), and the
 * lineage's credits as the change left them: what the answer shows, without reading D1 again.
 */
export async function changeLineage(
  ctx: LifecycleEnv,
  id: string,
  plan: (lineage: Lineage, target: StoredKey, now: number) => PlannedChange | null | Promise<PlannedChange | null>,
): Promise<{ written: Map<string, StoredKey>; lineage: Lineage }> {
  for (let attempt = 0; attempt < CONCURRENT_CHANGE_RETRIES; attempt++) {
    const { key: target, lineage } = await loadKey(ctx.env, id);
    const now = Date.now();
    const planned = await plan(lineage, target, now);
    if (!planned) return { written: new Map([[id, target]]), lineage };
    if (await commitTold(ctx, lineage, { ...planned, at: now })) {
      return {
        written: new Map(planned.writes.map((w) => [w.after.id, w.after])),
        lineage: "credits" in planned ? { ...lineage, credits: planned.credits ?? null } : lineage,
      };
    }
  }
  throw new ProblemError("CONFLICT", "The key changed concurrently several times; retry the request.");
}

/**
 * One attempt at committing a planned change. A lineage whose home exists is changed by its
 * home, which commits the batch itself, takes the change into its state and tells every region
 * before it answers; a lineage with no home yet is committed here, and its home reads it from D1
 * when a consumer request first creates it. Either way the batch is gated on the lineage's `seq`
 * and on `until` (D1's clock), so one whose outcome was lost is settled for good from D1 once
 * that moment has passed. False when the lineage moved and the change must be planned again.
 */
async function commitTold(ctx: LifecycleEnv, lineage: Lineage, plan: PlannedChange & { at: number }): Promise<boolean> {
  const { env, services, audit } = ctx;
  const change: LineageChange = {
    lineage,
    token: newId("chg"),
    writes: plan.writes,
    credits: plan.credits,
    requires: plan.requires,
    audit,
    at: plan.at,
    until: Date.now() + services.config.changeTimeoutMs,
  };
  const outcome = lineage.hasState ? await handToHome(ctx, change) : await commitHere(env, change);
  switch (outcome) {
    case "committed":
      // The change's events are in the outbox with it; the queue takes them from here.
      ctx.waitUntil(queueEvents(env, plan.writes.flatMap((w) => w.events ?? [])));
      await Promise.all(plan.writes.map((w) => publishKey(env, w.after)));
      return true;
    case "conflict":
    case "expired":
      return false;
    case "refused":
      throw plan.onRefused?.() ?? new ProblemError("CONFLICT", "The change was refused.");
    case "failed":
      throw unchanged();
  }
}

const unchanged = () =>
  new ProblemError("GATEWAY_UNAVAILABLE", "Key storage could not take this change, so nothing was changed; try again.", {
    headers: { "Retry-After": "5" },
  });

async function commitHere(env: Env, change: LineageChange): Promise<CommitOutcome | "failed"> {
  try {
    return await commitChange(env.DB, change);
  } catch (err) {
    return settle(env, change, err);
  }
}

/**
 * D1 threw, or the home could not be reached: the batch may have landed or may still land, until
 * D1's clock passes `until`. Then it is settled for good. D1 unreadable too: the one case that
 * cannot be told apart (docs/consistency.md); the call answers 503 and the audit log shows it.
 */
async function settle(env: Env, change: LineageChange, err: unknown): Promise<"committed" | "failed"> {
  const landed = await settleLostCommit(env.DB, change).catch(() => {
    throw storageUnavailable(err);
  });
  return landed ? "committed" : "failed";
}

async function handToHome(ctx: LifecycleEnv, change: LineageChange): Promise<CommitOutcome | "failed"> {
  const { services, env } = ctx;
  const req = {
    lineageId: change.lineage.id,
    region: null,
    seq: change.lineage.seq,
    token: change.token,
    writes: change.writes,
    ...(change.credits !== undefined ? { credits: { value: change.credits } } : {}),
    ...(change.requires ? { requires: change.requires } : {}),
    audit: change.audit,
    at: change.at,
    until: change.until,
  };
  // The home commits by `until` and then waits at most LEASE_MS for the regions.
  const timeoutMs = change.until - Date.now() + services.config.leaseMs + services.config.stateTimeoutMs;
  try {
    return (await withRetries(() => services.state.change(req, timeoutMs))).outcome;
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    console.warn(JSON.stringify({ level: "warn", msg: "the lineage's home could not be reached; settling the change from D1", lineage: change.lineage.id }));
    const outcome = await settle(env, change, err);
    // It landed though the home could not say so: the regions it may not have told stop on what
    // they knew within LEASE_MS, and the home reads D1 before it answers again.
    if (outcome === "committed") await new Promise((resolve) => setTimeout(resolve, services.config.leaseMs));
    return outcome;
  }
}

async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof StateUnavailableError) || attempt >= STATE_ATTEMPTS) throw err;
      console.warn(JSON.stringify({ level: "warn", msg: "the lineage's home failed; retrying", attempt, error: err.message }));
      await new Promise((resolve) => setTimeout(resolve, STATE_RETRY_PAUSE_MS * attempt));
    }
  }
}
