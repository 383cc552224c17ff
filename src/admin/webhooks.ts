import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { getDb, newId } from "../store/db";
import { deleteEndpoint, findEndpoint, insertEndpoint, listAttempts, listEndpoints, updateEndpoint, type AttemptRow, type EndpointRow } from "../store/webhooks";
import { EVENT_TYPES } from "../events/types";
import { newSecret } from "../events/secret";
import { webhookUrlProblem } from "../events/url";
import { attempt } from "../events/deliver";
import { payload, raise } from "../events/raise";
import { clientIp } from "../middleware";
import type { AuditContext } from "../store/audit";
import { decodeCursor, encodeCursor } from "./cursor";
import { bodyRequired } from "./body";
import { LIMITS } from "./schemas";
import { jsonBody, jsonContent, problemResponses } from "./openapi";

/**
 * Webhook endpoints (DESIGN.md, "Events and webhooks"; docs/events.md). Managing them needs
 * write access (ADMIN_TOKEN or an admin:write key; the `admin` role once roles exist). A
 * secret is answered twice only: when the endpoint is created and when it is rotated.
 */

const tags = ["webhooks"];

/** How long deliveries carry the previous secret's signature too, after a rotation. */
export const PREVIOUS_SECRET_MS = 24 * 3_600_000;

const ENDPOINT_ID = /^whk_[0-9A-HJKMNP-TV-Z]{26}$/;

const IsoTime = z.string().openapi({ format: "date-time" });

const WebhookUrl = z
  .string()
  .max(2048)
  .superRefine((url, ctx) => {
    const problem = webhookUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({
    format: "uri",
    example: "https://example.com/webhooks/keygate",
    description: "`https:`; `http:` only for a loopback address (127.0.0.0/8, ::1, localhost). No credentials, no fragment.",
  });

const EventTypes = z
  .array(z.enum([...EVENT_TYPES, "*"]))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((events) => !events.includes("*") || events.length === 1, '"*" stands alone: ["*"] is every type')
  .refine((events) => new Set(events).size === events.length, "each type once")
  .openapi({ example: ["key.revoked", "key.leaked"], description: 'Event types to receive, or `["*"]` for every type.' });

const Description = z
  .string()
  .max(500)
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

const CreateWebhookBody = z.object({ url: WebhookUrl, events: EventTypes, description: Description.nullable().optional() }).strict();

const UpdateWebhookBody = z
  .object({
    url: WebhookUrl.optional(),
    events: EventTypes.optional(),
    description: Description.nullable().optional(),
    enabled: z.boolean().optional().openapi({ description: "true takes deliveries again after keygate or an operator disabled the endpoint" }),
  })
  .strict();

const WebhookSchema = z
  .object({
    id: z.string().openapi({ example: "whk_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.enum(["gone", "failing"]).nullable().openapi({
      description: 'why keygate disabled it: "gone" (it answered 410), "failing" (every delivery failed for 3 days); null otherwise',
    }),
    failingSince: IsoTime.nullable().openapi({ description: "when its current run of failed deliveries began; null after a success" }),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  })
  .openapi("Webhook");

const SecretField = z.string().openapi({
  example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  description: "`whsec_` and the base64 of 32 random bytes: verify deliveries with it. Shown this once.",
});

const CreatedWebhookSchema = WebhookSchema.extend({ secret: SecretField }).openapi("CreatedWebhook");

const RotatedWebhookSchema = WebhookSchema.extend({
  secret: SecretField,
  previousSecretExpiresAt: IsoTime.openapi({ description: "until then, deliveries are signed with the previous secret too" }),
}).openapi("RotatedWebhook");

const WebhookListSchema = z.object({ data: z.array(WebhookSchema), nextCursor: z.string().nullable() }).openapi("WebhookList");

const DeliveryAttemptSchema = z
  .object({
    id: z.string().openapi({ example: "wha_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
    eventId: z.string().openapi({ description: "the `webhook-id` the receiver saw", example: "evt_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
    eventType: z.string().openapi({ example: "key.revoked" }),
    attempt: z.number().int().min(1),
    at: IsoTime,
    status: z.enum(["succeeded", "failed"]),
    statusCode: z.number().int().nullable().openapi({ description: "the receiver's HTTP status; null when none came" }),
    durationMs: z.number().int().min(0),
    error: z.string().nullable(),
    nextRetryAt: IsoTime.nullable().openapi({ description: "when the next attempt is due; null when none is" }),
  })
  .openapi("WebhookDeliveryAttempt");

const DeliveryListSchema = z
  .object({ data: z.array(DeliveryAttemptSchema), nextCursor: z.string().nullable() })
  .openapi("WebhookDeliveryList");

const TestResultSchema = z
  .object({ eventId: z.string(), type: z.literal("webhook.test"), attempt: DeliveryAttemptSchema })
  .openapi("WebhookTestResult");

const DeletedSchema = z.object({ id: z.string(), deleted: z.literal(true) }).openapi("DeletedWebhook");

const WebhookIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "whk_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
});

const Paging = { limit: z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.pageSize), cursor: z.string().max(512).optional() };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const toWebhook = (row: EndpointRow) => ({
  id: row.id,
  url: row.url,
  description: row.description,
  events: JSON.parse(row.events) as string[],
  enabled: row.enabled,
  disabledReason: row.disabledReason as "gone" | "failing" | null,
  failingSince: iso(row.failingSince),
  createdAt: iso(row.createdAt)!,
  updatedAt: iso(row.updatedAt)!,
});

const toAttempt = (row: AttemptRow) => ({
  id: row.id,
  eventId: row.eventId,
  eventType: row.eventType,
  attempt: row.attempt,
  at: iso(row.at)!,
  status: row.status,
  statusCode: row.statusCode,
  durationMs: row.durationMs,
  error: row.error,
  nextRetryAt: iso(row.nextRetryAt),
});

const auditOf = (c: Context<AppEnv>): AuditContext => ({ actor: c.get("actor").id, requestId: c.get("requestId"), clientIp: clientIp(c.req.raw.headers) });

const notFound = (id: string) => new ProblemError("NOT_FOUND", `No webhook endpoint has the id ${id}.`);

async function endpointOf(c: Context<AppEnv>, id: string): Promise<EndpointRow> {
  const row = ENDPOINT_ID.test(id) ? await findEndpoint(getDb(c.env.DB), id) : null;
  if (!row) throw notFound(id);
  return row;
}

const concurrently = () => new ProblemError("CONFLICT", "The endpoint changed while this request was made; read it again and retry.");

export function registerWebhookRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks",
      operationId: "createWebhook",
      tags,
      summary: "Add a webhook endpoint",
      description: "Answers the endpoint's signing secret this once.",
      middleware: [bodyRequired()],
      request: { body: jsonBody(CreateWebhookBody) },
      responses: { 201: jsonContent(CreatedWebhookSchema, "The new endpoint, with its secret"), ...problemResponses({ body: true }) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const now = Date.now();
      const row: EndpointRow = {
        id: newId("whk"),
        url: body.url,
        description: body.description ?? null,
        events: JSON.stringify(body.events),
        enabled: true,
        disabledReason: null,
        secret: newSecret(),
        previousSecret: null,
        previousSecretUntil: null,
        failingSince: null,
        createdAt: now,
        updatedAt: now,
      };
      await insertEndpoint(c.env.DB, row, auditOf(c));
      return c.json({ ...toWebhook(row), secret: row.secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks",
      operationId: "listWebhooks",
      tags,
      summary: "Webhook endpoints, newest first",
      request: { query: z.object(Paging) },
      responses: { 200: jsonContent(WebhookListSchema, "A page of endpoints"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const after = query.cursor ? await decodeCursor(secret, "webhooks", query.cursor) : undefined;
      const page = await listEndpoints(getDb(c.env.DB), { after, limit: query.limit });
      const last = page.rows.at(-1);
      return c.json({ data: page.rows.map(toWebhook), nextCursor: page.more && last ? await encodeCursor(secret, "webhooks", last.id) : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks/{id}",
      operationId: "getWebhook",
      tags,
      summary: "Get a webhook endpoint",
      request: { params: WebhookIdParam },
      responses: { 200: jsonContent(WebhookSchema, "The endpoint"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => c.json(toWebhook(await endpointOf(c, c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/webhooks/{id}",
      operationId: "updateWebhook",
      tags,
      summary: "Change a webhook endpoint",
      description: "Changes `url`, `events`, `description` or `enabled`. Enabling an endpoint keygate disabled clears why.",
      middleware: [bodyRequired()],
      request: { params: WebhookIdParam, body: jsonBody(UpdateWebhookBody) },
      responses: { 200: jsonContent(WebhookSchema, "The changed endpoint"), ...problemResponses({ body: true, own: [404, 409] }) },
    }),
    async (c) => {
      const before = await endpointOf(c, c.req.valid("param").id);
      const patch = c.req.valid("json");
      const after: EndpointRow = {
        ...before,
        ...(patch.url !== undefined ? { url: patch.url } : {}),
        ...(patch.events !== undefined ? { events: JSON.stringify(patch.events) } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
        ...(patch.enabled === true && !before.enabled ? { disabledReason: null, failingSince: null } : {}),
        updatedAt: Math.max(Date.now(), before.updatedAt + 1),
      };
      const unchanged = (["url", "events", "description", "enabled"] as const).every((f) => after[f] === before[f]);
      if (unchanged) return c.json(toWebhook(before), 200);
      if (!(await updateEndpoint(c.env.DB, before, after, "webhook.update", auditOf(c)))) throw concurrently();
      return c.json(toWebhook(after), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/webhooks/{id}",
      operationId: "deleteWebhook",
      tags,
      summary: "Delete a webhook endpoint",
      description: "No delivery is attempted to it afterwards, retries included. Its attempts stay listed until they age out (30 days).",
      request: { params: WebhookIdParam },
      responses: { 200: jsonContent(DeletedSchema, "The endpoint is gone"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const row = await endpointOf(c, c.req.valid("param").id);
      if (!(await deleteEndpoint(c.env.DB, row, auditOf(c), Date.now()))) throw notFound(row.id);
      return c.json({ id: row.id, deleted: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks/{id}/rotate-secret",
      operationId: "rotateWebhookSecret",
      tags,
      summary: "Give a webhook endpoint a new secret",
      description:
        "Answers the new secret this once. For 24 hours deliveries carry signatures under both the new and the previous " +
        "secret, so receivers can switch without missing one.",
      request: { params: WebhookIdParam },
      responses: { 200: jsonContent(RotatedWebhookSchema, "The endpoint, with its new secret"), ...problemResponses({ own: [404, 409] }) },
    }),
    async (c) => {
      const before = await endpointOf(c, c.req.valid("param").id);
      const now = Math.max(Date.now(), before.updatedAt + 1);
      const after: EndpointRow = { ...before, secret: newSecret(), previousSecret: before.secret, previousSecretUntil: now + PREVIOUS_SECRET_MS, updatedAt: now };
      const changes = { secret: { from: "(previous secret)", to: "(new secret)" } };
      if (!(await updateEndpoint(c.env.DB, before, after, "webhook.rotate_secret", auditOf(c), changes))) throw concurrently();
      return c.json({ ...toWebhook(after), secret: after.secret, previousSecretExpiresAt: iso(after.previousSecretUntil)! }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks/{id}/test",
      operationId: "testWebhook",
      tags,
      summary: "Send a webhook.test event now",
      description:
        "Delivers a `webhook.test` event to this endpoint (enabled or not) and answers the first attempt; a failed attempt " +
        "is retried on the usual schedule.",
      request: { params: WebhookIdParam },
      responses: { 200: jsonContent(TestResultSchema, "The first attempt"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const row = await endpointOf(c, c.req.valid("param").id);
      const event = raise("webhook.test", { webhook: { id: row.id, url: row.url }, message: "A test event from keygate." });
      const delivery = { endpointId: row.id, eventId: event.id, type: event.type, body: payload(event), attempt: 1 };
      const attempted = await attempt(c.env, c.get("services").config, delivery, { retryMustBeQueued: false });
      if (!attempted) throw notFound(row.id);
      return c.json({ eventId: event.id, type: "webhook.test" as const, attempt: toAttempt(attempted.row) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks/{id}/deliveries",
      operationId: "listWebhookDeliveries",
      tags,
      summary: "A webhook endpoint's delivery attempts, newest first",
      description: "Every attempt: event id and type, time, status code, duration, error, next retry. Kept 30 days.",
      request: {
        params: WebhookIdParam,
        query: z.object({ status: z.enum(["succeeded", "failed"]).optional(), ...Paging }),
      },
      responses: { 200: jsonContent(DeliveryListSchema, "A page of attempts"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const row = await endpointOf(c, c.req.valid("param").id);
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const kind = `deliveries:${row.id}`;
      const after = query.cursor ? await decodeCursor(secret, kind, query.cursor) : undefined;
      const page = await listAttempts(getDb(c.env.DB), { endpointId: row.id, status: query.status, after, limit: query.limit });
      const last = page.rows.at(-1);
      return c.json({ data: page.rows.map(toAttempt), nextCursor: page.more && last ? await encodeCursor(secret, kind, last.id) : null }, 200);
    },
  );
}
