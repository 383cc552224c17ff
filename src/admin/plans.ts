import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { IsoTime, RateLimitSchema, RefillSchema, Scopes } from "../api/schemas";
import { createPlan, deletePlan, getPlan, listPlans, patchPlan, planEffect, type PlanAnswer } from "../lifecycle/owners";
import { RateLimits } from "./schemas";
import { ownersEnv } from "./owners";
import { bodyRequired } from "./body";
import { jsonBody, jsonContent, problemResponses } from "./openapi";

/**
 * Plans (DESIGN.md, "Owners and plans"): the tiers an operator sells. A change is in force on
 * the next request of every key it touches when it answers 200; a plan with many owners
 * answers 202 with `inForceBy` (at most 60 s ahead), and shows `pending` until every owner's
 * home has taken it in (docs/consistency.md, "Owners and plans").
 */

const tags = ["plans"];

const PLAN_ID = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const PlanIdParam = z.object({
  id: z
    .string()
    .regex(PLAN_ID, "must match ^[a-z0-9][a-z0-9_-]{0,39}$")
    .openapi({ param: { name: "id", in: "path" }, example: "pro" }),
});

/** A plan's shared balance for each owner: shaped as a refill, which it is (it starts at and is refilled to `amount`). */
const PlanCreditsSchema = RefillSchema;

const PlanName = z
  .string()
  .min(1)
  .max(100)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters")
  .openapi({ pattern: "^[^\\u0000-\\u001f\\u007f]{1,100}$", example: "Pro" });

const PlanFields = {
  name: PlanName,
  description: z.string().max(1000).nullable(),
  keyRatelimits: RateLimits.openapi({ description: "each key's own limits, unless the key sets its own" }),
  ownerRatelimits: RateLimits.openapi({ description: "limits all keys of an owner on this plan share, unless the owner sets its own" }),
  ownerCredits: PlanCreditsSchema.nullable().openapi({ description: "each owner's shared balance starts at and is refilled to `amount` (null: none)" }),
  maxKeys: z.number().int().min(1).max(1_000_000).nullable().openapi({ description: "usable keys per owner (null: MAX_KEYS_PER_OWNER)" }),
  scopes: Scopes.nullable().openapi({ description: "the most a key of this plan's owners may hold (null: no ceiling)" }),
};

const CreatePlanBody = z
  .object({
    id: PlanIdParam.shape.id.openapi({ param: undefined }),
    name: PlanFields.name,
    description: PlanFields.description.optional(),
    keyRatelimits: PlanFields.keyRatelimits.optional(),
    ownerRatelimits: PlanFields.ownerRatelimits.optional(),
    ownerCredits: PlanFields.ownerCredits.optional(),
    maxKeys: PlanFields.maxKeys.optional(),
    scopes: PlanFields.scopes.optional(),
  })
  .strict();

const PatchPlanBody = z
  .object({
    name: PlanFields.name.optional(),
    description: PlanFields.description.optional(),
    keyRatelimits: PlanFields.keyRatelimits.optional(),
    ownerRatelimits: PlanFields.ownerRatelimits.optional(),
    ownerCredits: PlanFields.ownerCredits.optional(),
    maxKeys: PlanFields.maxKeys.optional(),
    scopes: PlanFields.scopes.optional(),
  })
  .strict();

const PlanCreditsRecord = z.object({ amount: z.number().int(), interval: z.enum(["daily", "monthly"]), day: z.number().int().optional() });

const PlanRecordSchema = z
  .object({
    id: z.string().openapi({ example: "pro" }),
    name: z.string(),
    description: z.string().nullable(),
    keyRatelimits: z.array(RateLimitSchema),
    ownerRatelimits: z.array(RateLimitSchema),
    ownerCredits: PlanCreditsRecord.nullable(),
    maxKeys: z.number().int().nullable(),
    scopes: z.array(z.string()).nullable(),
    version: z.number().int(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    owners: z.number().int().openapi({ description: "owners on the plan" }),
    pending: z.number().int().openapi({ description: "owners' homes that have not taken in the last change yet (0: in force everywhere)" }),
    inForceBy: IsoTime.nullable().openapi({ description: "when the last change is in force for every owner at the latest" }),
  })
  .openapi("Plan");

const PlanListSchema = z.object({ data: z.array(PlanRecordSchema) }).openapi("PlanList");

const PlanAcceptedSchema = z
  .object({
    owners: z.number().int().openapi({ description: "owners on the plan" }),
    pending: z.number().int().openapi({ description: "owners' homes still to take the change in" }),
    inForceBy: IsoTime.openapi({ description: "the change is in force on every key of the plan's owners by then (at most 60 s ahead)" }),
  })
  .openapi("PlanChangeAccepted");

const Change = z.object({ from: z.unknown(), to: z.unknown() });

const PlanPreviewSchema = z
  .object({
    plan: PlanRecordSchema.omit({ owners: true, pending: true, inForceBy: true }).openapi({ description: "the plan as it would be" }),
    owners: z.number().int().openapi({ description: "owners the change touches: those on the plan" }),
    keys: z.number().int().openapi({ description: "usable keys whose limits follow the plan (they set none of their own)" }),
    changes: z.record(z.string(), Change).openapi({ description: "each field that would change, before and after" }),
    refused: z
      .array(z.object({ id: z.string(), ownerId: z.string(), scopes: z.array(z.string()) }))
      .openapi({ description: "usable keys the new scope ceiling would not cover: the change itself would be refused (403 SCOPE_NOT_ALLOWED)" }),
  })
  .openapi("PlanPreview");

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function planRecord({ plan, owners, pending }: PlanAnswer) {
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
    createdAt: iso(plan.createdAt)!,
    updatedAt: iso(plan.updatedAt)!,
    owners,
    pending,
    inForceBy: pending > 0 ? iso(plan.inForceBy) : null,
  };
}

export function registerPlanRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/plans",
      operationId: "listPlans",
      tags,
      summary: "List plans, with their owner counts",
      responses: { 200: jsonContent(PlanListSchema, "Every plan"), ...problemResponses() },
    }),
    async (c) => c.json({ data: (await listPlans(c.env)).map(planRecord) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/plans",
      operationId: "createPlan",
      tags,
      summary: "Create a plan",
      description: "Role `admin`. A plan with the same id is 409.",
      middleware: [bodyRequired()],
      request: { body: jsonBody(CreatePlanBody) },
      responses: { 201: jsonContent(PlanRecordSchema, "The new plan"), ...problemResponses({ body: true, own: [409] }) },
    }),
    async (c) => {
      const { id, ...input } = c.req.valid("json");
      return c.json(planRecord(await createPlan(ownersEnv(c), id, input)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/plans/{id}",
      operationId: "getPlan",
      tags,
      summary: "Get a plan",
      description: "`pending` counts the owners' homes that have not taken in its last change yet.",
      request: { params: PlanIdParam },
      responses: { 200: jsonContent(PlanRecordSchema, "The plan"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => c.json(planRecord(await getPlan(c.env, c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/plans/{id}",
      operationId: "updatePlan",
      tags,
      summary: "Change a plan",
      description:
        "Role `admin`. 200: in force on the next request of every key the plan touches. 202: the plan has more owners than one " +
        "call tells (25); the change is in force everywhere by `inForceBy` (at most 60 s), and the plan shows `pending` until then. " +
        "A new scope ceiling its owners' keys exceed is 403 SCOPE_NOT_ALLOWED naming them. Concurrent changes apply one after the other.",
      middleware: [bodyRequired()],
      request: { params: PlanIdParam, body: jsonBody(PatchPlanBody) },
      responses: {
        200: jsonContent(PlanRecordSchema, "The changed plan, in force"),
        202: jsonContent(PlanAcceptedSchema, "Accepted: in force everywhere by inForceBy"),
        ...problemResponses({ body: true, own: [403, 404, 409] }),
      },
    }),
    async (c) => {
      const outcome = await patchPlan(ownersEnv(c), c.req.valid("param").id, c.req.valid("json"));
      if (outcome.kind === "done") return c.json(planRecord(outcome.answer), 200);
      return c.json({ owners: outcome.owners, pending: outcome.pending, inForceBy: iso(outcome.inForceBy)! }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/plans/{id}",
      operationId: "deletePlan",
      tags,
      summary: "Delete a plan",
      description: "Role `admin`. 409 PLAN_IN_USE while an owner is on it.",
      request: { params: PlanIdParam },
      responses: {
        200: jsonContent(z.object({ id: z.string(), deleted: z.literal(true) }).openapi("DeletedPlan"), "Deleted"),
        ...problemResponses({ own: [404, 409] }),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await deletePlan(ownersEnv(c), id);
      return c.json({ id, deleted: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/plans/{id}/preview",
      operationId: "previewPlan",
      tags,
      summary: "What a plan change would do, changing nothing",
      description: "Takes the body of a plan PATCH; answers the owners and keys it touches and each field before and after. Writes nothing.",
      middleware: [bodyRequired()],
      request: { params: PlanIdParam, body: jsonBody(PatchPlanBody) },
      responses: { 200: jsonContent(PlanPreviewSchema, "What would change"), ...problemResponses({ body: true, own: [404] }) },
    }),
    async (c) => {
      const effect = await planEffect(c.env, c.req.valid("param").id, c.req.valid("json"));
      const { owners: _o, pending: _p, inForceBy: _i, ...plan } = planRecord({ plan: effect.after, owners: 0, pending: 0 });
      return c.json({ plan, owners: effect.owners, keys: effect.keys, changes: effect.changes, refused: effect.beyond }, 200);
    },
  );
}
