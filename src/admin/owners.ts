import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { clientIp } from "../middleware";
import { usageSource } from "../analytics/usage";
import { From, Granularity, series, SeriesSchema, seriesRange, Source, To, UsageFiguresSchema } from "../api/usage";
import { decodeCursor, encodeCursor } from "../api/cursor";
import { Cursor, CreditsRecordSchema, IsoTime, LimitStateSchema, OwnerId, PageSize, RefillSchema } from "../api/schemas";
import { getOwner, listOwners, patchOwner, putOwner, type OwnerAnswer, type OwnersEnv } from "../lifecycle/owners";
import { findOwnerView } from "../store/owners";
import { CreditsPatchSchema, CreditsSchema, Metadata, RateLimits } from "./schemas";
import { bodyRequired } from "./body";
import { jsonBody, jsonContent, problemResponses } from "./openapi";

/**
 * Owners (DESIGN.md, "Owners and plans"): the operator's customers, each with the limits and
 * balance all its keys share and a plan. `PUT` creates or replaces one, `PATCH` changes what it
 * names; both are in force on the next request of every key of the owner once they answer.
 */

const tags = ["owners"];

export function ownersEnv(c: Context<AppEnv>): OwnersEnv {
  const actor = c.get("actor");
  return {
    env: c.env,
    services: c.get("services"),
    audit: { actor: actor.id, requestId: c.get("requestId"), clientIp: clientIp(c.req.raw.headers) },
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}

const OwnerIdParam = z.object({
  id: OwnerId.openapi({ param: { name: "id", in: "path" }, example: "acct_42" }),
});

const OwnerName = z
  .string()
  .min(1)
  .max(100)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters")
  .openapi({ pattern: "^[^\\u0000-\\u001f\\u007f]{1,100}$", example: "Acme Inc." });

const PlanRef = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "must be a plan id").openapi({ example: "pro" });

export const OwnerRecordSchema = z
  .object({
    id: z.string().openapi({ example: "acct_42" }),
    name: z.string().nullable(),
    plan: z.string().nullable().openapi({ description: "the plan's id, or null" }),
    ratelimits: z
      .array(z.object({ name: z.string(), limit: z.number().int(), windowSeconds: z.number().int() }))
      .nullable()
      .openapi({ description: "limits all the owner's keys share; null: the plan's `ownerRatelimits`" }),
    credits: CreditsRecordSchema.nullable().openapi({
      description: "the balance all the owner's keys draw from, when one was set on the owner (its live `remaining`); null: the plan's, if any (see `balance`)",
    }),
    metadata: z.record(z.string(), z.unknown()),
    keys: z.number().int().openapi({ description: "usable keys (neither revoked nor expired)" }),
    version: z.number().int(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    balance: z
      .object({ remaining: z.number().int(), refill: RefillSchema.nullable(), refillIn: z.number().int().nullable() })
      .nullable()
      .openapi({ description: "the shared balance in force (the owner's own, else its plan's) with what is left; null: none" }),
    limits: z.array(LimitStateSchema).openapi({ description: "the shared limits in force (named owner.<name>) with what is left in their windows" }),
  })
  .openapi("Owner");

const OwnerListItemSchema = OwnerRecordSchema.omit({ balance: true, limits: true })
  .extend({ requests24h: z.number().int().openapi({ description: "requests made with the owner's keys in the last 24 hours (at most 60 s behind)" }) })
  .openapi("OwnerListItem");

const OwnerListSchema = z.object({ data: z.array(OwnerListItemSchema), nextCursor: z.string().nullable() }).openapi("OwnerList");

const OwnerUsageSchema = z
  .object({
    ownerId: z.string(),
    from: IsoTime,
    to: IsoTime,
    granularity: z.enum(["hour", "day"]),
    source: Source,
    series: SeriesSchema,
    totals: UsageFiguresSchema,
  })
  .openapi("OwnerUsage");

const PutOwnerBody = z
  .object({
    name: OwnerName.nullable().optional(),
    plan: PlanRef.nullable().optional(),
    ratelimits: RateLimits.nullable().optional(),
    credits: CreditsSchema.nullable().optional(),
    metadata: Metadata.optional(),
  })
  .strict();

const PatchOwnerBody = z
  .object({
    name: OwnerName.nullable().optional(),
    plan: PlanRef.nullable().optional(),
    ratelimits: RateLimits.nullable().optional(),
    credits: CreditsPatchSchema.nullable().optional(),
    metadata: Metadata.optional(),
  })
  .strict();

export function ownerRecord({ owner, plan, keys, balance, limits }: OwnerAnswer) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: owner.id,
    name: owner.name,
    plan: plan?.id ?? owner.plan,
    ratelimits: owner.ratelimits,
    // The owner's own balance shows what is left of it; the plan's shows in `balance`.
    credits: owner.credits && { ...owner.credits, remaining: balance?.remaining ?? owner.credits.remaining },
    metadata: owner.metadata,
    keys,
    version: owner.version,
    createdAt: iso(owner.createdAt),
    updatedAt: iso(owner.updatedAt),
    balance: balance && { remaining: balance.remaining, refill: balance.refill, refillIn: balance.refillIn },
    limits,
  };
}

export function registerOwnerRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/owners",
      operationId: "listOwners",
      tags,
      summary: "List owners, in id order",
      description: "Each with its usable keys and the requests of the last 24 hours. `q` finds text in the id or the name.",
      request: {
        query: z.object({
          plan: PlanRef.optional(),
          q: z.string().min(1).max(200).optional(),
          limit: PageSize,
          cursor: Cursor,
        }),
      },
      responses: { 200: jsonContent(OwnerListSchema, "A page of owners"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const after = query.cursor ? await decodeCursor(secret, "owners", query.cursor) : undefined;
      const page = await listOwners(c.env, { ...query, after });
      const last = page.owners.at(-1);
      return c.json(
        {
          data: page.owners.map(({ owner, keys, requests24h }) => {
            const { balance: _balance, limits: _limits, ...record } = ownerRecord({ owner, plan: null, keys, balance: null, limits: [] });
            return { ...record, requests24h };
          }),
          nextCursor: page.more && last ? await encodeCursor(secret, "owners", last.owner.id) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/owners/{id}",
      operationId: "getOwner",
      tags,
      summary: "Get an owner",
      description: "With its shared limits and balance and what is left of them (read from the owner's home when it exists; never creates it).",
      request: { params: OwnerIdParam },
      responses: { 200: jsonContent(OwnerRecordSchema, "The owner"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => c.json(ownerRecord(await getOwner(ownersEnv(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/owners/{id}",
      operationId: "putOwner",
      tags,
      summary: "Create or replace an owner",
      description: "What the body leaves out takes its default (no name, no plan, nothing shared, no metadata). An unknown plan is 400; a plan whose scope ceiling the owner's keys exceed is 403 SCOPE_NOT_ALLOWED naming them.",
      middleware: [bodyRequired()],
      request: { params: OwnerIdParam, body: jsonBody(PutOwnerBody) },
      responses: {
        200: jsonContent(OwnerRecordSchema, "The owner, replaced"),
        201: jsonContent(OwnerRecordSchema, "The owner, created"),
        ...problemResponses({ body: true, own: [403, 409] }),
      },
    }),
    async (c) => {
      const { answer, created } = await putOwner(ownersEnv(c), c.req.valid("param").id, c.req.valid("json"));
      return c.json(ownerRecord(answer), created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/owners/{id}",
      operationId: "updateOwner",
      tags,
      summary: "Change an owner",
      description:
        "Changes name, plan, ratelimits, credits and metadata. `credits` with `remaining` alone sets the shared balance and keeps its refill. In force on the next request of every key of the owner once it answers.",
      middleware: [bodyRequired()],
      request: { params: OwnerIdParam, body: jsonBody(PatchOwnerBody) },
      responses: { 200: jsonContent(OwnerRecordSchema, "The changed owner"), ...problemResponses({ body: true, own: [403, 404, 409] }) },
    }),
    async (c) => c.json(ownerRecord((await patchOwner(ownersEnv(c), c.req.valid("param").id, c.req.valid("json"))).answer), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/owners/{id}/usage",
      operationId: "getOwnerUsage",
      tags: ["usage"],
      summary: "One owner's usage over time, across its keys",
      description: "Shaped as a key's usage. Defaults: the last 24 hours hourly, or the last 30 days daily; at most 90 days.",
      request: { params: OwnerIdParam, query: z.object({ from: From, to: To, granularity: Granularity }) },
      responses: { 200: jsonContent(OwnerUsageSchema, "Time series and totals"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await findOwnerView(c.env.DB, id))) throw new ProblemError("NOT_FOUND", `No owner has the id ${id}.`);
      const query = c.req.valid("query");
      const { range, step } = seriesRange(query);
      const source = usageSource(c.env, c.get("services").config);
      const { series: buckets, ...rest } = series(await source.ownerCells(id, range, step), range, step);
      return c.json({ ownerId: id, from: rest.from, to: rest.to, granularity: query.granularity, source: source.name, series: buckets, totals: rest.totals }, 200);
    },
  );
}
