import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { toRecord, type KeyRecord, type StoredKey } from "../keys/record";
import { beyondCeiling } from "../keys/scopes";
import { KEY_ID_PATTERN, getDb } from "../store/db";
import { listKeys } from "../store/keys";
import { createKey, getKey, revokeKey, rotate, updateKeyFields } from "../lifecycle/keys";
import { withLiveCredits } from "../lifecycle/state";
import { decodeCursor, encodeCursor } from "../api/cursor";
import { bodyRequired } from "../api/body";
import { jsonBody, jsonContent, problemResponses } from "../api/openapi";
import { Cursor, KeyIdParam, PageSize } from "../api/schemas";
import { requestLogPage, RequestListSchema, RequestLogQuery } from "../api/requests";
import { z } from "@hono/zod-openapi";
import { portalLifecycle } from "./auth";
import { portalKeyDefaults } from "./defaults";
import {
  CreatedPortalKeySchema,
  CreatePortalKeyBody,
  PortalKeyListSchema,
  PortalKeySchema,
  RotatePortalKeyBody,
  UpdatePortalKeyBody,
} from "./schemas";

const tags = ["keys"];

/** A key as its holder sees it: everything but `metadata`, which is the operator's. */
export function portalRecord(record: KeyRecord): Omit<KeyRecord, "metadata"> {
  const { metadata, ...rest } = record;
  void metadata;
  return rest;
}

/** The caller's own key; any other key, and an id that is no key's, is 404 alike (never 403). */
async function ownKey(c: Context<AppEnv>, id: string): Promise<StoredKey> {
  const notFound = new ProblemError("NOT_FOUND", `No key has the id ${id}.`);
  if (!KEY_ID_PATTERN.test(id)) throw notFound;
  const key = await getKey(c.env, id).catch((err) => {
    throw err instanceof ProblemError && err.code === "NOT_FOUND" ? notFound : err;
  });
  if (key.ownerId !== c.get("portalCaller").ownerId) throw notFound;
  return key;
}

const cursorKind = (ownerId: string) => `portal-keys:${ownerId}`;

/** The owner's keys: list, create, change, rotate, revoke, and one key's request log. */
export function registerPortalKeyRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/keys",
      operationId: "listOwnKeys",
      tags,
      summary: "The owner's keys, newest first",
      request: { query: z.object({ limit: PageSize, cursor: Cursor }) },
      responses: { 200: jsonContent(PortalKeyListSchema, "A page of the owner's keys"), ...problemResponses() },
    }),
    async (c) => {
      const { ownerId } = c.get("portalCaller");
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const after = query.cursor ? await decodeCursor(secret, cursorKind(ownerId), query.cursor) : undefined;
      const page = await listKeys(getDb(c.env.DB), { ownerId, limit: query.limit, after, now: Date.now() });
      const last = page.keys.at(-1);
      return c.json(
        {
          data: page.keys.map((key) => portalRecord(toRecord(key))),
          nextCursor: page.more && last ? await encodeCursor(secret, cursorKind(ownerId), last.id) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/keys",
      operationId: "createOwnKey",
      tags,
      summary: "Create a key",
      description:
        "Returns the key itself once, in `key`. Its limits and credits come from the owner's plan (none without one); scopes " +
        "beyond what the owner may hold are 403 SCOPE_NOT_ALLOWED; more usable keys than the owner may have are 409 " +
        "KEY_LIMIT_REACHED.",
      middleware: [bodyRequired()],
      request: { body: jsonBody(CreatePortalKeyBody) },
      responses: { 201: jsonContent(CreatedPortalKeySchema, "The new key"), ...problemResponses({ body: true, own: [409] }) },
    }),
    async (c) => {
      const { ownerId } = c.get("portalCaller");
      const body = c.req.valid("json");
      const defaults = await portalKeyDefaults(c.get("services"), c.env, ownerId);
      const beyond = beyondCeiling(defaults.scopeCeiling ?? ["*"], body.scopes);
      if (beyond.length > 0) {
        throw new ProblemError(
          "SCOPE_NOT_ALLOWED",
          `${beyond.join(", ")} ${beyond.length === 1 ? "is" : "are"} beyond what your keys may hold` +
            (defaults.scopeCeiling && defaults.scopeCeiling.length > 0 ? ` (${defaults.scopeCeiling.join(", ")}).` : " (no scope)."),
          { extensions: { issues: [{ path: "scopes", message: `not allowed: ${beyond.join(", ")}` }] } },
        );
      }
      const { stored, key } = await createKey(portalLifecycle(c), {
        name: body.name,
        ownerId,
        environment: body.environment,
        scopes: body.scopes,
        metadata: {},
        allowedIps: body.allowedIps,
        ratelimits: defaults.ratelimits,
        credits: defaults.credits,
        ...(body.expiresIn !== undefined ? { expiresIn: body.expiresIn } : {}),
        enabled: true,
      });
      return c.json({ ...portalRecord(toRecord(stored)), key }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/keys/{id}",
      operationId: "updateOwnKey",
      tags,
      summary: "Rename a key, change its allowed IPs, or disable or enable it",
      middleware: [bodyRequired()],
      request: { params: KeyIdParam, body: jsonBody(UpdatePortalKeyBody) },
      responses: { 200: jsonContent(PortalKeySchema, "The changed key"), ...problemResponses({ body: true, own: [404, 409] }) },
    }),
    async (c) => {
      const key = await ownKey(c, c.req.valid("param").id);
      const changed = await updateKeyFields(portalLifecycle(c), key.id, c.req.valid("json"));
      return c.json(portalRecord(await withLiveCredits(c.get("services"), changed)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/keys/{id}/rotate",
      operationId: "rotateOwnKey",
      tags,
      summary: "Rotate a key",
      description: "A new key sharing the old key's limits and credits; the old one keeps working for the grace period (at most 7 days).",
      request: { params: KeyIdParam, body: { ...jsonBody(RotatePortalKeyBody), required: false } },
      responses: { 201: jsonContent(CreatedPortalKeySchema, "The new key"), ...problemResponses({ body: true, own: [404, 409] }) },
    }),
    async (c) => {
      const key = await ownKey(c, c.req.valid("param").id);
      const body = RotatePortalKeyBody.parse((c.req.valid("json") as object | undefined) ?? {});
      const successor = await rotate(portalLifecycle(c), key.id, body.gracePeriodSeconds);
      return c.json({ ...portalRecord(await withLiveCredits(c.get("services"), successor)), key: successor.secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/keys/{id}",
      operationId: "revokeOwnKey",
      tags,
      summary: "Revoke a key",
      description: "It stops working on the very next request. Idempotent.",
      request: { params: KeyIdParam },
      responses: { 200: jsonContent(PortalKeySchema, "The revoked key"), ...problemResponses({ own: [404, 409] }) },
    }),
    async (c) => {
      const key = await ownKey(c, c.req.valid("param").id);
      return c.json(portalRecord(await withLiveCredits(c.get("services"), await revokeKey(portalLifecycle(c), key.id))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/keys/{id}/requests",
      operationId: "listOwnKeyRequests",
      tags,
      summary: "One key's recent requests, newest first",
      description: "Kept 7 days; at most 60 s behind.",
      request: { params: KeyIdParam, query: RequestLogQuery },
      responses: { 200: jsonContent(RequestListSchema, "A page of requests"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const key = await ownKey(c, c.req.valid("param").id);
      return c.json(await requestLogPage(c.env.DB, c.get("services").config.adminToken, key.id, c.req.valid("query")), 200);
    },
  );
}
