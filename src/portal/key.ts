import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { BARE_CHALLENGE, ProblemError } from "../errors";
import { hashKey } from "../keys/format";
import { wellFormedKey } from "../keys/imported";
import { ipAllowed } from "../keys/ip";
import { keyUnusable } from "../keys/verify";
import { toRecord, type StoredKey } from "../keys/record";
import { readKeyNow } from "../store/cache";
import { getDb } from "../store/db";
import { recordUnknownKey, refuseIfTooManyInvalid } from "../store/invalid-keys";
import { loadLineageOf } from "../store/lineage";
import { countKeyRead } from "../store/portal";
import { clientIp } from "../middleware";
import { liveState } from "../lifecycle/state";
import { jsonContent, problemResponses } from "../api/openapi";
import { portalRecord } from "./keys";
import { ownerView } from "./defaults";
import { KeySelfSchema } from "./schemas";

/** `GET /api/key` calls a key may make per minute (DESIGN.md), counted exactly in D1 across isolates. */
export const KEY_READS_PER_MINUTE = 60;

/** Keys this isolate already saw over the limit, and the minute: their further calls that minute cost no D1 write. */
const overLimit = new Map<string, number>();

function presentedKey(c: Context<AppEnv>): string | null {
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "")?.[1];
  return bearer ?? c.req.header("X-API-Key") ?? null;
}

/**
 * The consumer key the caller presents, checked as the gateway checks it (checks 1 to 5 and the
 * key's allowed IPs, under the same bound on unknown keys), read from D1 so a revoked key is
 * refused at once. A disabled key may still read itself: its holder sees `enabled: false`.
 */
async function callerKey(c: Context<AppEnv>): Promise<StoredKey> {
  const presented = presentedKey(c);
  if (!presented) {
    throw new ProblemError("MISSING_KEY", "Send the key as `Authorization: Bearer <key>`.", { headers: { "WWW-Authenticate": BARE_CHALLENGE } });
  }
  if (!wellFormedKey(presented, c.get("services").config.importedKeyPrefixes)) {
    throw new ProblemError("MALFORMED_KEY", "This is not a keygate key (its format or checksum is wrong).");
  }
  const ip = clientIp(c.req.raw.headers);
  refuseIfTooManyInvalid(ip);
  const hash = await hashKey(presented);
  const key = await readKeyNow(c.env, hash);
  if (!key) {
    recordUnknownKey(ip, hash, Date.now());
    throw new ProblemError("KEY_NOT_FOUND", "No key matches this one.");
  }
  const unusable = keyUnusable(key, Date.now());
  if (unusable && unusable.code !== "KEY_DISABLED") throw new ProblemError(unusable.code, unusable.detail);
  if (!ipAllowed(ip, key.allowedIps)) throw new ProblemError("IP_NOT_ALLOWED", "This key may not be used from this address.");
  return key;
}

/** At most KEY_READS_PER_MINUTE calls per key per minute, then 429 RATE_LIMITED until the minute ends. */
async function countRead(c: Context<AppEnv>, key: StoredKey): Promise<void> {
  const now = Date.now();
  const minute = now - (now % 60_000);
  const refuse = () =>
    new ProblemError("RATE_LIMITED", `GET /api/key answers a key at most ${KEY_READS_PER_MINUTE} times a minute.`, {
      headers: { "Retry-After": String(Math.max(1, Math.ceil((minute + 60_000 - now) / 1000))) },
      extensions: { limit: "portal.key" },
    });
  if (overLimit.get(key.id) === minute) throw refuse();
  const count = await countKeyRead(getDb(c.env.DB), key.id, minute);
  if (count > KEY_READS_PER_MINUTE) {
    if (overLimit.size > 10_000) overLimit.clear();
    overLimit.set(key.id, minute);
    throw refuse();
  }
}

/**
 * `GET /api/key` with a consumer key instead of a session: the key's own record (without
 * metadata), its limits and credits with what is left, and its owner's. Reads the lineage's home
 * when it exists, else what the home would start from: charges nothing, moves no window, and
 * never creates the home.
 */
export function registerKeySelfRoute(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/key",
      operationId: "keySelf",
      tags: ["key"],
      summary: "The key presented, with what is left of its limits and credits",
      description:
        "Authenticate with the consumer key itself (`Authorization: Bearer <key>`), not a session. Charges nothing and moves no " +
        `rate-limit window; at most ${KEY_READS_PER_MINUTE} calls a minute per key, then 429 RATE_LIMITED.`,
      security: [{ consumerKey: [] }],
      responses: { 200: jsonContent(KeySelfSchema, "The key, its limits and credits, and its owner's"), ...problemResponses() },
    }),
    async (c) => {
      const key = await callerKey(c);
      await countRead(c, key);
      const services = c.get("services");
      const lineage = await loadLineageOf(c.env.DB, key.id);
      if (!lineage) throw new ProblemError("KEY_NOT_FOUND", "No key matches this one.");
      const [live, owner] = await Promise.all([liveState(services, key, lineage), ownerView(services, c.env, key.ownerId)]);
      const record = toRecord(key);
      if (live.credits && record.credits) record.credits = { ...record.credits, remaining: live.credits.remaining };
      return c.json(
        {
          key: portalRecord(record),
          limits: live.limits,
          credits: live.credits && { remaining: live.credits.remaining, refill: lineage.credits?.refill ?? null, refillIn: live.credits.refillIn },
          owner,
        },
        200,
      );
    },
  );
}
