import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { hashKey } from "../keys/format";
import { wellFormedKey } from "../keys/imported";
import { missingScopes } from "../keys/scopes";
import { keyUnusable, VERIFY_CODES } from "../keys/verify";
import { KEY_ID_PATTERN, getDb } from "../store/db";
import { findByHash, listKeys } from "../store/keys";
import { toRecord, type StoredKey } from "../keys/record";
import { clientIp } from "../middleware";
import { createKey, loadKey, revokeKey, rotate, updateKeyFields, type Changed, type LifecycleEnv } from "../lifecycle/keys";
import { loadLineageOf } from "../store/lineage";
import { liveState, withLiveCredits as live } from "../lifecycle/state";
import { decodeCursor, encodeCursor } from "./cursor";
import { bodyRequired } from "./body";
import {
  CreatedKeySchema,
  CreateKeyBody,
  KeyIdParam,
  KeyListSchema,
  KeyRecordSchema,
  ListKeysQuery,
  RotateKeyBody,
  UpdateKeyBody,
  VerifyKeyBody,
  VerifyResultSchema,
} from "./schemas";
import { jsonBody, jsonContent, problemResponses } from "./openapi";

const tags = ["keys"];

function lifecycle(c: Context<AppEnv>): LifecycleEnv {
  return {
    env: c.env,
    services: c.get("services"),
    audit: { actor: c.get("actor").id, requestId: c.get("requestId"), clientIp: clientIp(c.req.raw.headers) },
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}

const withLiveCredits = (c: Context<AppEnv>, changed: Changed) => live(c.get("services"), changed);

/** Unknown and malformed ids are simply not found. */
function keyId(id: string): string {
  if (!KEY_ID_PATTERN.test(id)) throw new ProblemError("NOT_FOUND", `No key has the id ${id}.`);
  return id;
}

export function registerKeyRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/keys",
      operationId: "createKey",
      tags,
      summary: "Create a key",
      description: "Returns the key itself once, in `key`; only its hash is stored.",
      middleware: [bodyRequired()],
      request: { body: jsonBody(CreateKeyBody) },
      responses: { 201: jsonContent(CreatedKeySchema, "The new key"), ...problemResponses({ body: true, own: [409] }) },
    }),
    async (c) => {
      const { stored, key } = await createKey(lifecycle(c), c.req.valid("json"));
      return c.json({ ...toRecord(stored), key }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/keys",
      operationId: "listKeys",
      tags,
      summary: "List keys, newest first",
      request: { query: ListKeysQuery },
      responses: { 200: jsonContent(KeyListSchema, "A page of keys"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const after = query.cursor ? await decodeCursor(secret, "keys", query.cursor) : undefined;
      const page = await listKeys(getDb(c.env.DB), { ...query, after, now: Date.now() });
      const last = page.keys.at(-1);
      return c.json(
        {
          data: page.keys.map(toRecord),
          nextCursor: page.more && last ? await encodeCursor(secret, "keys", last.id) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/keys/verify",
      operationId: "verifyKey",
      tags,
      summary: "Verify a key without proxying",
      description: "Consumes no rate limit and no credits. `code` is `VALID` or the code the gateway would answer.",
      middleware: [bodyRequired()],
      request: { body: jsonBody(VerifyKeyBody) },
      responses: { 200: jsonContent(VerifyResultSchema, "The verdict"), ...problemResponses({ body: true }) },
    }),
    async (c) => c.json(await verify(c, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/keys/{id}",
      operationId: "getKey",
      tags,
      summary: "Get a key",
      request: { params: KeyIdParam },
      responses: { 200: jsonContent(KeyRecordSchema, "The key"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => c.json(await withLiveCredits(c, await loadKey(c.env, keyId(c.req.valid("param").id))), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/keys/{id}",
      operationId: "updateKey",
      tags,
      summary: "Change a key",
      description: "Applies to the very next gateway request. Revoked keys cannot be changed.",
      middleware: [bodyRequired()],
      request: { params: KeyIdParam, body: jsonBody(UpdateKeyBody) },
      responses: { 200: jsonContent(KeyRecordSchema, "The changed key"), ...problemResponses({ body: true, own: [404, 409] }) },
    }),
    async (c) => {
      return c.json(await withLiveCredits(c, await updateKeyFields(lifecycle(c), keyId(c.req.valid("param").id), c.req.valid("json"))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/keys/{id}",
      operationId: "revokeKey",
      tags,
      summary: "Revoke a key",
      description: "Idempotent: revoking a revoked key returns it unchanged.",
      request: { params: KeyIdParam },
      responses: { 200: jsonContent(KeyRecordSchema, "The revoked key"), ...problemResponses({ own: [404, 409] }) },
    }),
    async (c) => c.json(await withLiveCredits(c, await revokeKey(lifecycle(c), keyId(c.req.valid("param").id))), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/keys/{id}/rotate",
      operationId: "rotateKey",
      tags,
      summary: "Rotate a key",
      description:
        "Creates a successor sharing the old key's limits and credits. The old key keeps working for " +
        "`gracePeriodSeconds` (default 0, never past its own expiry), then fails with KEY_EXPIRED.",
      request: { params: KeyIdParam, body: { ...jsonBody(RotateKeyBody), required: false } },
      responses: { 201: jsonContent(CreatedKeySchema, "The successor"), ...problemResponses({ body: true, own: [404, 409] }) },
    }),
    async (c) => {
      const body = RotateKeyBody.parse((c.req.valid("json") as object | undefined) ?? {});
      const successor = await rotate(lifecycle(c), keyId(c.req.valid("param").id), body.gracePeriodSeconds);
      return c.json({ ...(await withLiveCredits(c, successor)), key: successor.secret }, 201);
    },
  );
}

type VerifyResult = import("zod").infer<typeof VerifyResultSchema>;

async function verify(c: Context<AppEnv>, body: { key: string; scopes?: string[] }): Promise<VerifyResult> {
  const refuse = (code: (typeof VERIFY_CODES)[number], key?: StoredKey): VerifyResult => ({
    valid: false,
    code,
    keyId: key?.id ?? null,
    ownerId: key?.ownerId ?? null,
    scopes: key?.scopes ?? null,
    metadata: key?.metadata ?? null,
    ratelimits: null,
    credits: null,
  });
  if (!wellFormedKey(body.key, c.get("services").config.importedKeyPrefixes)) return refuse("MALFORMED_KEY");
  const key = await findByHash(getDb(c.env.DB), await hashKey(body.key));
  if (!key) return refuse("KEY_NOT_FOUND");
  const unusable = keyUnusable(key, Date.now());
  if (unusable) return refuse(unusable.code, key);

  // A usable key shows what is left of it, also when the scopes asked for refuse it (checked
  // first, as the gateway answers 403 before 429).
  const lineage = await loadLineageOf(c.env.DB, key.id);
  if (!lineage) return refuse("KEY_NOT_FOUND");
  const live = await liveState(c.get("services"), key, lineage);
  const outOfScope = body.scopes !== undefined && missingScopes(key.scopes, body.scopes).length > 0;
  const limited = live.limits.some((l) => l.remaining <= 0);
  const exhausted = live.credits !== null && live.credits.remaining <= 0;
  return {
    valid: !outOfScope && !limited && !exhausted,
    code: outOfScope ? "INSUFFICIENT_SCOPE" : limited ? "RATE_LIMITED" : exhausted ? "QUOTA_EXHAUSTED" : "VALID",
    keyId: key.id,
    ownerId: key.ownerId,
    scopes: key.scopes,
    metadata: key.metadata,
    ratelimits: live.limits,
    credits: live.credits && { remaining: live.credits.remaining, refill: key.credits?.refill ?? null, refillIn: live.credits.refillIn },
  };
}
