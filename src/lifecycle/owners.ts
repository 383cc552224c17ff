import { and, eq, or, sql } from "drizzle-orm";
import { ProblemError } from "../errors";
import type { Credits, RateLimit } from "../keys/record";
import { beyondPlan, sharedCredits, sharedLimits, type Owner, type OwnerView, type Plan, type PlanCredits } from "../owners/record";
import { getDb, newId, runBatch, storageUnavailable } from "../store/db";
import { auditAfterChange, type AuditContext, type FieldChanges } from "../store/audit";
import { keys, owners, plans, usageRollups } from "../store/schema";
import { commitOwnerChange, findOwnerView, findPlan, ownerFromRow, ownersToTell, planCounts, planFromRow, settleOwnerChange, usableKeysOf, type OwnerChange } from "../store/owners";
import { publishOwner } from "../store/owner-cache";
import { outboxInsert } from "../store/outbox";
import { StateUnavailableError } from "../admission/client";
import { PLAN_REFRESH_MS } from "../admission/owner";
import { creditState, limitState, type CreditState, type LimitState } from "../admission/budget";
import { raise } from "../events/raise";
import { queueEvents } from "../events/dispatch";
import type { Services } from "../context";

/**
 * Owners and plans behind the admin API (DESIGN.md, "Owners and plans"). An owner change is
 * committed like a lineage's (docs/consistency.md): by the owner's home when it exists, which
 * tells every object holding budgets of the owner before it answers, else here, gated on the
 * owner row's `seq` and a deadline on D1's clock. A plan change is gated on the plan's
 * `version`; the homes of the owners on it are told at once when they are few, else in the
 * background, with a 202 that says by when the change is in force everywhere (every owner's
 * home reads its plan again at least every PLAN_REFRESH_MS while its keys are used).
 */

export interface OwnersEnv {
  env: Env;
  services: Services;
  audit: AuditContext;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** Changes racing on one owner or plan: each round lands one. */
const ROUNDS = 8;
/** A plan change tells at most this many owners' homes within the admin call; more answer 202. */
export const SYNC_OWNERS = 25;
/** Owners' homes told per batch of a rollout, in parallel. */
const ROLLOUT_BATCH = 50;

// ---- owners ---------------------------------------------------------------------------------

/** What an owner answers: the record, its usable keys, and what is left of what its keys share. */
export interface OwnerAnswer {
  owner: Owner;
  plan: Plan | null;
  keys: number;
  /** the shared balance (the owner's own, else the plan's) with what is left; null: none */
  balance: (CreditState & { refill: Credits["refill"] }) | null;
  /** the shared limits with what is left */
  limits: LimitState[];
}

const notFound = (id: string) => new ProblemError("NOT_FOUND", `No owner has the id ${id}.`);

async function usableKeys(env: Env, ownerId: string, now: number): Promise<number> {
  const [row] = await getDb(env.DB).all<{ n: number }>(sql`SELECT ${usableKeysOf(ownerId, now)} AS n`);
  return Number(row?.n ?? 0);
}

/** The owner's shared limits and balance with what is left: from its home when it exists, else as they start. */
export async function ownerLive(services: Services, view: OwnerView, hasState: boolean): Promise<Pick<OwnerAnswer, "balance" | "limits">> {
  const limits = sharedLimits(view);
  const shared = sharedCredits(view);
  const now = Date.now();
  if (!hasState) {
    return {
      limits: limits.map((rl) => limitState(rl, { start: now, windowMs: rl.windowSeconds * 1000 }, rl.limit, now)),
      balance: shared && { ...creditState(shared.credits.remaining, shared.credits.refill, now, now), refill: shared.credits.refill },
    };
  }
  const live = await services.state.ownerPeek({ ownerId: view.owner.id, ratelimits: limits }).catch((err) => {
    if (!(err instanceof StateUnavailableError)) throw err;
    throw new ProblemError("GATEWAY_UNAVAILABLE", "The owner's shared limits cannot be read right now; try again shortly.", {
      headers: { "Retry-After": "5" },
    });
  });
  return { limits: live.limits, balance: live.credits && shared ? { ...live.credits, refill: shared.credits.refill } : null };
}

export async function getOwner(ctx: Pick<OwnersEnv, "env" | "services">, id: string): Promise<OwnerAnswer> {
  const found = await findOwnerView(ctx.env.DB, id);
  if (!found) throw notFound(id);
  const view = { owner: found.owner, plan: found.plan };
  return { ...view, keys: await usableKeys(ctx.env, id, Date.now()), ...(await ownerLive(ctx.services, view, found.hasState)) };
}

export interface OwnerListItem {
  owner: Owner;
  keys: number;
  requests24h: number;
}

/** Owners, newest id last (ids are the operator's, so they list in id order), with keys and requests of the last 24 h. */
export async function listOwners(env: Env, filter: { plan?: string; q?: string; after?: string; limit: number }): Promise<{ owners: OwnerListItem[]; more: boolean }> {
  const now = Date.now();
  const where = [];
  if (filter.plan) where.push(eq(owners.plan, filter.plan));
  if (filter.q) where.push(or(sql`instr(lower(${owners.id}), lower(${filter.q})) > 0`, sql`instr(lower(coalesce(${owners.name}, '')), lower(${filter.q})) > 0`));
  if (filter.after) where.push(sql`${owners.id} > ${filter.after}`);
  const since = now - 86_400_000 - (now % 3_600_000);
  const rows = await getDb(env.DB)
    .select({
      row: owners,
      keys: usableKeysOf(sql.raw('"owners"."id"'), now).mapWith(Number),
      requests: sql<number>`(SELECT COALESCE(SUM(requests), 0) FROM ${usageRollups} WHERE owner_id = "owners"."id" AND hour >= ${since})`.mapWith(Number),
    })
    .from(owners)
    .where(where.length ? and(...where) : undefined)
    .orderBy(owners.id)
    .limit(filter.limit + 1);
  return {
    owners: rows.slice(0, filter.limit).map((r) => ({ owner: ownerFromRow(r.row), keys: r.keys, requests24h: r.requests })),
    more: rows.length > filter.limit,
  };
}

/** An owner body as PUT and PATCH send it: `credits.refill` left out keeps the current refill. */
export interface OwnerInput {
  name?: string | null;
  plan?: string | null;
  ratelimits?: RateLimit[] | null;
  credits?: (Omit<Credits, "refill"> & { refill?: Credits["refill"] }) | null;
  metadata?: Record<string, unknown>;
}

/** PUT: creates the owner or replaces it whole (what the body leaves out takes its default). */
export const putOwner = (ctx: OwnersEnv, id: string, body: OwnerInput) =>
  changeOwner(ctx, id, true, () => ({
    name: body.name ?? null,
    plan: body.plan ?? null,
    ratelimits: body.ratelimits ?? null,
    credits: body.credits ? { remaining: body.credits.remaining, refill: body.credits.refill ?? null } : null,
    metadata: body.metadata ?? {},
  }), "credits" in body && body.credits !== undefined);

/** PATCH: changes what the body names. */
export const patchOwner = (ctx: OwnersEnv, id: string, body: OwnerInput) =>
  changeOwner(ctx, id, false, (current) => ({
    name: body.name !== undefined ? body.name : current!.owner.name,
    plan: body.plan !== undefined ? body.plan : current!.owner.plan,
    ratelimits: body.ratelimits !== undefined ? body.ratelimits : current!.owner.ratelimits,
    credits:
      body.credits === undefined
        ? current!.owner.credits
        : body.credits && { remaining: body.credits.remaining, refill: body.credits.refill === undefined ? (current!.owner.credits?.refill ?? null) : body.credits.refill },
    metadata: body.metadata ?? current!.owner.metadata,
  }), body.credits !== undefined);

type OwnerFields = Pick<Owner, "name" | "plan" | "ratelimits" | "credits" | "metadata">;

const OWNER_FIELDS = ["name", "plan", "ratelimits", "credits", "metadata"] as const;

/**
 * Plans the change against the owner as D1 holds it and commits it; when another change got
 * there first, reads again and plans again.
 */
async function changeOwner(
  ctx: OwnersEnv,
  id: string,
  create: boolean,
  fields: (current: (OwnerView & { seq: number; hasState: boolean }) | null) => OwnerFields,
  setsCredits: boolean,
): Promise<{ answer: OwnerAnswer; created: boolean }> {
  const { env, services, audit } = ctx;
  for (let round = 0; round < ROUNDS; round++) {
    const current = await findOwnerView(env.DB, id);
    if (!current && !create) throw notFound(id);
    const now = Date.now();
    const after = fields(current);
    const plan = after.plan === null ? null : after.plan === current?.plan?.id ? current.plan : await findPlan(env.DB, after.plan);
    if (after.plan !== null && !plan) {
      throw new ProblemError("VALIDATION_FAILED", `plan: no plan has the id ${after.plan}.`, { extensions: { issues: [{ path: "plan", message: `unknown plan ${after.plan}` }] } });
    }
    if (after.plan !== (current?.owner.plan ?? null)) await requireKeysWithin(env, id, plan, now);
    const changes: FieldChanges = {};
    for (const field of OWNER_FIELDS) {
      const from = current ? current.owner[field] : null;
      if (JSON.stringify(from) !== JSON.stringify(after[field])) changes[field] = { from, to: after[field] };
    }
    if (current && Object.keys(changes).length === 0 && !setsCredits) {
      return { answer: await getOwner(ctx, id), created: false };
    }
    const version = (current?.owner.version ?? 0) + 1;
    const owner: Owner = {
      id,
      ...after,
      creditsVersion: (current?.owner.creditsVersion ?? 0) + (setsCredits ? 1 : 0),
      version,
      createdAt: current?.owner.createdAt ?? now,
      updatedAt: now,
    };
    const change: OwnerChange = {
      ownerId: id,
      seq: current ? current.seq : null,
      token: newId("chg"),
      after: owner,
      setsCredits,
      audit,
      changes,
      action: "owner.update",
      at: now,
      until: now + services.config.changeTimeoutMs,
      events: [raise("owner.updated", { owner: ownerRecordOf(owner, plan), changes })],
    };
    const outcome = current?.hasState ? await handToOwnerHome(ctx, change as OwnerChange & { seq: number }) : await commitHere(env, change);
    if (outcome === "committed") {
      ctx.waitUntil(queueEvents(ctx.env, change.events ?? []));
      await publishOwner(env, { owner, plan });
      return { answer: await getOwner(ctx, id), created: current === null };
    }
    if (outcome === "refused") {
      throw new ProblemError("VALIDATION_FAILED", `plan: no plan has the id ${after.plan}.`, { extensions: { issues: [{ path: "plan", message: `unknown plan ${after.plan}` }] } });
    }
    if (outcome === "failed") {
      throw new ProblemError("GATEWAY_UNAVAILABLE", "Storage could not take this change, so nothing was changed; try again.", { headers: { "Retry-After": "5" } });
    }
  }
  throw new ProblemError("CONFLICT", "The owner changed concurrently several times; retry the request.");
}

async function commitHere(env: Env, change: OwnerChange): Promise<"committed" | "conflict" | "refused" | "expired" | "failed"> {
  try {
    return await commitOwnerChange(env.DB, change);
  } catch (err) {
    const landed = await settleOwnerChange(env.DB, change).catch(() => {
      throw storageUnavailable(err);
    });
    return landed ? "committed" : "failed";
  }
}

async function handToOwnerHome(ctx: OwnersEnv, change: OwnerChange & { seq: number }): Promise<"committed" | "conflict" | "refused" | "expired" | "failed"> {
  const { services, env } = ctx;
  const timeoutMs = change.until - Date.now() + services.config.leaseMs + services.config.stateTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return (await services.state.ownerChange(change, timeoutMs)).outcome;
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      if (attempt < 3) {
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        continue;
      }
      const landed = await settleOwnerChange(env.DB, change).catch(() => {
        throw storageUnavailable(err);
      });
      if (landed) await new Promise((resolve) => setTimeout(resolve, services.config.leaseMs));
      return landed ? "committed" : "failed";
    }
  }
}

/** 403 SCOPE_NOT_ALLOWED naming every usable key of the owner whose scopes the plan's ceiling does not cover. */
async function requireKeysWithin(env: Env, ownerId: string, plan: Plan | null, now: number): Promise<void> {
  if (!plan?.scopes) return;
  const rows = await getDb(env.DB)
    .select({ id: keys.id, scopes: keys.scopes })
    .from(keys)
    .where(and(eq(keys.ownerId, ownerId), sql`${keys.revokedAt} IS NULL`, or(sql`${keys.expiresAt} IS NULL`, sql`${keys.expiresAt} > ${now}`)));
  const beyond = rows
    .map((r) => ({ id: r.id, scopes: beyondPlan(JSON.parse(r.scopes) as string[], plan) }))
    .filter((k) => k.scopes.length > 0);
  if (beyond.length === 0) return;
  const named = beyond.slice(0, 20).map((k) => `${k.id} (${k.scopes.join(", ")})`);
  throw new ProblemError(
    "SCOPE_NOT_ALLOWED",
    `Plan ${plan.id} allows keys at most ${plan.scopes.join(", ") || "no scopes"}; ${beyond.length === 1 ? "this key holds" : "these keys hold"} more: ${named.join("; ")}${beyond.length > 20 ? ` and ${beyond.length - 20} more` : ""}.`,
    { extensions: { keys: beyond, scopes: [...new Set(beyond.flatMap((k) => k.scopes))] } },
  );
}

/** The owner as an event's data and the admin API show it. */
export function ownerRecordOf(owner: Owner, plan: Plan | null) {
  return {
    id: owner.id,
    name: owner.name,
    plan: plan?.id ?? owner.plan,
    ratelimits: owner.ratelimits,
    credits: owner.credits,
    metadata: owner.metadata,
    version: owner.version,
    createdAt: new Date(owner.createdAt).toISOString(),
    updatedAt: new Date(owner.updatedAt).toISOString(),
  };
}

// ---- plans ----------------------------------------------------------------------------------

export interface PlanInput {
  name?: string;
  description?: string | null;
  keyRatelimits?: RateLimit[];
  ownerRatelimits?: RateLimit[];
  ownerCredits?: PlanCredits | null;
  maxKeys?: number | null;
  scopes?: string[] | null;
}

const planNotFound = (id: string) => new ProblemError("NOT_FOUND", `No plan has the id ${id}.`);

export interface PlanAnswer {
  plan: Plan;
  owners: number;
  pending: number;
}

export async function getPlan(env: Env, id: string): Promise<PlanAnswer> {
  const plan = await findPlan(env.DB, id);
  if (!plan) throw planNotFound(id);
  return { plan, ...(await planCounts(env.DB, id, plan.version)) };
}

export async function listPlans(env: Env): Promise<PlanAnswer[]> {
  const rows = await getDb(env.DB).all<Record<string, unknown>>(sql`
    SELECT p.*, (SELECT count(*) FROM ${owners} o WHERE o.plan = p.id) AS owners,
           (SELECT COALESCE(SUM(o.has_state = 1 AND o.plan_version_seen < p.version), 0) FROM ${owners} o WHERE o.plan = p.id) AS pending
    FROM ${plans} p ORDER BY p.id`);
  return rows.map((r) => ({
    plan: planFromRow({
      id: String(r.id),
      name: String(r.name),
      description: (r.description as string | null) ?? null,
      keyRatelimits: String(r.key_ratelimits),
      ownerRatelimits: String(r.owner_ratelimits),
      ownerCredits: (r.owner_credits as string | null) ?? null,
      maxKeys: (r.max_keys as number | null) ?? null,
      scopes: (r.scopes as string | null) ?? null,
      version: Number(r.version),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      inForceBy: (r.in_force_by as number | null) ?? null,
    }),
    owners: Number(r.owners),
    pending: Number(r.pending),
  }));
}

const planColumns = (p: Omit<Plan, "id" | "version" | "createdAt" | "updatedAt" | "inForceBy">) => ({
  name: p.name,
  description: p.description,
  keyRatelimits: JSON.stringify(p.keyRatelimits),
  ownerRatelimits: JSON.stringify(p.ownerRatelimits),
  ownerCredits: p.ownerCredits === null ? null : JSON.stringify(p.ownerCredits),
  maxKeys: p.maxKeys,
  scopes: p.scopes === null ? null : JSON.stringify(p.scopes),
});

export async function createPlan(ctx: OwnersEnv, id: string, input: Required<Pick<PlanInput, "name">> & PlanInput): Promise<PlanAnswer> {
  const now = Date.now();
  const plan: Plan = {
    id,
    name: input.name,
    description: input.description ?? null,
    keyRatelimits: input.keyRatelimits ?? [],
    ownerRatelimits: input.ownerRatelimits ?? [],
    ownerCredits: input.ownerCredits ?? null,
    maxKeys: input.maxKeys ?? null,
    scopes: input.scopes ?? null,
    version: 1,
    createdAt: now,
    updatedAt: now,
    inForceBy: null,
  };
  const db = getDb(ctx.env.DB);
  const event = raise("plan.updated", { plan: planRecordOf(plan), created: true });
  const opened = sql`EXISTS (SELECT 1 FROM ${plans} WHERE id = ${id} AND version = 1 AND created_at = ${now})`;
  const [inserted] = await runBatch(ctx.env.DB, [
    db.insert(plans).values({ id, ...planColumns(plan), version: 1, createdAt: now, updatedAt: now }).onConflictDoNothing(),
    auditAfterChange(ctx.audit, "plan.create", id, { plan: { from: null, to: planRecordOf(plan) } }, now),
    outboxInsert(event, opened),
  ]).catch((err) => {
    throw storageUnavailable(err);
  });
  if (inserted.meta.changes !== 1) throw new ProblemError("CONFLICT", `A plan with the id ${id} exists already.`);
  ctx.waitUntil(queueEvents(ctx.env, [event]));
  return { plan, owners: 0, pending: 0 };
}

/** What a plan change does, worked out without changing anything (the preview, and the change itself). */
export interface PlanEffect {
  plan: Plan;
  after: Plan;
  /** owners on the plan */
  owners: number;
  /** keys whose limits follow the plan (they set none of their own) */
  keys: number;
  changes: FieldChanges;
  /** usable keys the new ceiling would not cover */
  beyond: { id: string; ownerId: string; scopes: string[] }[];
}

export async function planEffect(env: Env, id: string, input: PlanInput): Promise<PlanEffect> {
  const plan = await findPlan(env.DB, id);
  if (!plan) throw planNotFound(id);
  const after: Plan = { ...plan, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) } as Plan;
  const changes: FieldChanges = {};
  for (const field of ["name", "description", "keyRatelimits", "ownerRatelimits", "ownerCredits", "maxKeys", "scopes"] as const) {
    if (JSON.stringify(plan[field]) !== JSON.stringify(after[field])) changes[field] = { from: plan[field], to: after[field] };
  }
  const now = Date.now();
  const db = getDb(env.DB);
  const [counts] = await db.all<{ owners: number; keys: number }>(sql`
    SELECT (SELECT count(*) FROM ${owners} WHERE plan = ${id}) AS owners,
           (SELECT count(*) FROM ${keys} k JOIN ${owners} o ON o.id = k.owner_id
            WHERE o.plan = ${id} AND k.ratelimits = '[]' AND k.revoked_at IS NULL
              AND (k.expires_at IS NULL OR k.expires_at > ${now})) AS keys`);
  let beyond: PlanEffect["beyond"] = [];
  if (after.scopes && JSON.stringify(after.scopes) !== JSON.stringify(plan.scopes)) {
    const rows = await db
      .select({ id: keys.id, ownerId: keys.ownerId, scopes: keys.scopes })
      .from(keys)
      .innerJoin(owners, eq(owners.id, keys.ownerId))
      .where(and(eq(owners.plan, id), sql`${keys.revokedAt} IS NULL`, or(sql`${keys.expiresAt} IS NULL`, sql`${keys.expiresAt} > ${now}`)));
    beyond = rows
      .map((r) => ({ id: r.id, ownerId: r.ownerId, scopes: beyondPlan(JSON.parse(r.scopes) as string[], after) }))
      .filter((k) => k.scopes.length > 0);
  }
  return { plan, after, owners: Number(counts?.owners ?? 0), keys: Number(counts?.keys ?? 0), changes, beyond };
}

/** A plan change: in force everywhere when it answers `done`; else by `inForceBy` (`pending` homes still to tell). */
export type PlanChangeOutcome = { kind: "done"; answer: PlanAnswer } | { kind: "accepted"; owners: number; pending: number; inForceBy: number };

export async function patchPlan(ctx: OwnersEnv, id: string, input: PlanInput): Promise<PlanChangeOutcome> {
  const { env, services, audit } = ctx;
  for (let round = 0; round < ROUNDS; round++) {
    const effect = await planEffect(env, id, input);
    if (effect.beyond.length > 0) {
      const named = effect.beyond.slice(0, 20).map((k) => `${k.id} (${k.scopes.join(", ")})`);
      throw new ProblemError(
        "SCOPE_NOT_ALLOWED",
        `The new ceiling does not cover ${effect.beyond.length === 1 ? "this key" : "these keys"} of owners on plan ${id}: ${named.join("; ")}${effect.beyond.length > 20 ? ` and ${effect.beyond.length - 20} more` : ""}.`,
        { extensions: { keys: effect.beyond, scopes: [...new Set(effect.beyond.flatMap((k) => k.scopes))] } },
      );
    }
    if (Object.keys(effect.changes).length === 0) return { kind: "done", answer: await getPlan(env, id) };
    const now = Date.now();
    const inForceBy = now + PLAN_REFRESH_MS + services.config.leaseMs + 5_000;
    const after: Plan = { ...effect.after, version: effect.plan.version + 1, updatedAt: now, inForceBy };
    const event = raise("plan.updated", { plan: planRecordOf(after), changes: effect.changes });
    const opened = sql`EXISTS (SELECT 1 FROM ${plans} WHERE id = ${id} AND version = ${after.version} AND updated_at = ${now})`;
    const db = getDb(env.DB);
    const [updated] = await runBatch(env.DB, [
      db
        .update(plans)
        .set({ ...planColumns(after), version: after.version, updatedAt: now, inForceBy })
        .where(and(eq(plans.id, id), eq(plans.version, effect.plan.version))),
      auditAfterChange(audit, "plan.update", id, effect.changes, now),
      outboxInsert(event, opened),
    ]).catch((err) => {
      throw storageUnavailable(err);
    });
    if (updated.meta.changes !== 1) continue; // another change landed first: plan again
    ctx.waitUntil(queueEvents(ctx.env, [event]));
    const counts = await planCounts(env.DB, id, after.version);
    if (counts.pending <= SYNC_OWNERS) {
      await tellOwners(env, services, id, after.version, Number.POSITIVE_INFINITY);
      return { kind: "done", answer: await getPlan(env, id) };
    }
    ctx.waitUntil(tellOwners(env, services, id, after.version, 25_000).catch(() => undefined));
    return { kind: "accepted", owners: counts.owners, pending: counts.pending, inForceBy };
  }
  throw new ProblemError("CONFLICT", "The plan changed concurrently several times; retry the request.");
}

export async function deletePlan(ctx: OwnersEnv, id: string): Promise<void> {
  const plan = await findPlan(ctx.env.DB, id);
  if (!plan) throw planNotFound(id);
  const db = getDb(ctx.env.DB);
  const now = Date.now();
  const event = raise("plan.updated", { plan: planRecordOf(plan), deleted: true });
  const [deleted] = await runBatch(ctx.env.DB, [
    db.delete(plans).where(and(eq(plans.id, id), sql`NOT EXISTS (SELECT 1 FROM ${owners} WHERE plan = ${id})`)),
    auditAfterChange(ctx.audit, "plan.delete", id, { plan: { from: planRecordOf(plan), to: null } }, now),
    outboxInsert(event, sql`changes() = 1`), // the audit entry was written: this request deleted it
  ]).catch((err) => {
    throw storageUnavailable(err);
  });
  if (deleted.meta.changes === 1) {
    ctx.waitUntil(queueEvents(ctx.env, [event]));
    return;
  }
  const { owners: count } = await planCounts(ctx.env.DB, id, plan.version);
  if (count > 0) throw new ProblemError("PLAN_IN_USE", `Plan ${id} has ${count} owner${count === 1 ? "" : "s"}; move them to another plan first.`, { extensions: { owners: count } });
  throw planNotFound(id);
}

/**
 * Tells the homes of the plan's owners that have not taken in `version`, a batch at a time,
 * until none is left or `budgetMs` has passed (the hourly Cron Trigger goes on from there).
 * A home that cannot be reached takes the change in by itself within PLAN_REFRESH_MS of its
 * next use.
 */
export async function tellOwners(env: Env, services: Services, planId: string, version: number, budgetMs: number): Promise<void> {
  const started = Date.now();
  let after = "";
  while (Date.now() - started < budgetMs) {
    const batch = await ownersToTell(env.DB, planId, version, after, ROLLOUT_BATCH);
    if (batch.length === 0) return;
    await Promise.all(batch.map((ownerId) => services.state.planChanged(ownerId).catch(() => undefined)));
    after = batch.at(-1)!;
  }
}

/** The Cron Trigger's part: plans whose owners' homes are still to be told of their last change. */
export async function continueRollouts(env: Env, services: Services): Promise<void> {
  const pending = await getDb(env.DB)
    .select({ id: plans.id, version: plans.version })
    .from(plans)
    .where(sql`EXISTS (SELECT 1 FROM ${owners} o WHERE o.plan = ${plans.id} AND o.has_state = 1 AND o.plan_version_seen < ${plans.version})`);
  for (const plan of pending) await tellOwners(env, services, plan.id, plan.version, 20_000);
}

export function planRecordOf(plan: Plan) {
  return {
    id: plan.id,
    name: plan.name,
    description: plan.description,
    keyRatelimits: plan.keyRatelimits,
    ownerRatelimits: plan.ownerRatelimits,
    ownerCredits: plan.ownerCredits,
    maxKeys: plan.maxKeys,
    scopes: plan.scopes,
    version: plan.version,
    createdAt: new Date(plan.createdAt).toISOString(),
    updatedAt: new Date(plan.updatedAt).toISOString(),
  };
}
