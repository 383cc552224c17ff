import type { Services } from "./context";
import { consume } from "./events/consumer";
import { KEYGATE_ACTOR } from "./events/deliver";
import type { QueueMessage, SuspensionRequest } from "./events/types";
import { suspendKey } from "./lifecycle/rules";
import { usageBuffer } from "./analytics/buffer";
import { KEY_START_CHARS } from "./store/security-events";
import { newRequestId } from "./http/request-id";

/**
 * The EVENTS queue's consumer (wrangler.toml; docs/events.md): fans events out to webhook
 * endpoints, attempts deliveries, and carries out the suspensions the abuse rule decided.
 * It sits at the top, beside the Cron Trigger, because a suspension is a key change made
 * through the key lifecycle.
 */
export async function handleQueue(batch: MessageBatch<QueueMessage>, env: Env, ctx: ExecutionContext, services: Services): Promise<void> {
  await consume(batch, { env, config: services.config, suspend: (request) => suspend(env, ctx, services, request) });
}

/** A suspension, through the lifecycle (audit actor `keygate`), then its security event. */
async function suspend(env: Env, ctx: ExecutionContext, services: Services, request: SuspensionRequest): Promise<void> {
  const key = await suspendKey(
    { env, services, audit: { ...KEYGATE_ACTOR, requestId: newRequestId(), clientIp: request.request?.ip ?? null }, waitUntil: (p) => ctx.waitUntil(p) },
    request,
  );
  if (!key) return;
  const tipped = request.request;
  usageBuffer().recordSecurity(
    {
      at: request.at,
      code: "KEY_SUSPENDED",
      ip: tipped?.ip ?? null,
      country: tipped?.country ?? null,
      userAgent: tipped?.userAgent ?? null,
      method: tipped?.method ?? null,
      path: tipped?.path ?? null,
      route: tipped?.route ?? null,
      keyStart: key.start?.slice(0, KEY_START_CHARS) ?? null,
      keyId: key.id,
      requestId: tipped?.requestId ?? newRequestId(),
    },
    ctx,
    services.config.usageFlushMs,
  );
}
