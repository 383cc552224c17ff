import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, createKey } from "./helpers";
import { d1FailingWrites, gatewayWith, storedRecord, throwing, withHomeDb } from "./gateway-helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, payloadOf, received, sleep } from "./webhook-helpers";
import { raise } from "../../src/events/raise";
import type { QueueMessage } from "../../src/events/types";

/**
 * DESIGN.md, "Events and webhooks": at least once. An event a change raised is written in the
 * change's own D1 batch (the outbox), so once the change landed the event reaches the receiver
 * even when D1 or the queue fails along the way; what fails is retried, and duplicates carry
 * the same `webhook-id` (docs/events.md).
 */

const QUICK = { CHANGE_TIMEOUT_MS: "1000", STATE_TIMEOUT_MS: "300" };

const revoke = (gateway: ReturnType<typeof gatewayWith>, id: string) =>
  gateway.call(`/admin/keys/${id}`, ADMIN_TOKEN, { method: "DELETE" });

/** Runs the every-minute relay as if `aheadMs` had passed, so events just raised count as left behind. */
async function relay(aheadMs = 31_000): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + aheadMs, cron: "* * * * *" }), env);
}

const outboxHolds = async (type: string, keyId: string) =>
  (await env.DB.prepare("SELECT event FROM event_outbox WHERE type = ?").bind(type).all<{ event: string }>()).results.some(
    (row) => (JSON.parse(row.event) as { keyId?: string }).keyId === keyId,
  );

describe("an event raised while D1 fails", () => {
  it("D1 commits the revocation but its answer is lost (no home yet): key.revoked still arrives", async () => {
    const { name } = await endpointWithReceiver(["key.revoked"]);
    const key = await createKey({ scopes: ["posts:read"] });
    const res = await revoke(gatewayWith({ DB: d1FailingWrites("lose-answer"), ...QUICK }), key.id);
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await storedRecord(key.key)).revokedAt).not.toBeNull();
    const [delivery] = await deliveriesTo(name, aboutKey(key.id, "key.revoked"));
    expect(delivery.verified).toEqual([true]);
    expect(payloadOf(delivery).data.key).toMatchObject({ id: key.id });
    expect(await outboxHolds("key.revoked", key.id)).toBe(false);
  });

  it("the lineage's home commits the revocation but D1's answer is lost: key.revoked still arrives", async () => {
    const { name } = await endpointWithReceiver(["key.revoked"]);
    const key = await createKey({ scopes: ["posts:read"] });
    const { call } = gatewayWith(QUICK);
    for (let i = 0; i < 2; i++) expect((await call("/posts", key.key)).status).toBe(200); // the home exists
    const res = await withHomeDb(key.id, d1FailingWrites("lose-answer"), () => revoke(gatewayWith(QUICK), key.id));
    expect(res.status, await res.clone().text()).toBe(200);
    const [delivery] = await deliveriesTo(name, aboutKey(key.id, "key.revoked"));
    expect(delivery.verified).toEqual([true]);
  });

  it("a change D1 refused raises nothing", async () => {
    const { name } = await endpointWithReceiver(["key.revoked"]);
    const key = await createKey();
    const res = await revoke(gatewayWith({ DB: d1FailingWrites("fail"), ...QUICK }), key.id);
    expect(res.status).toBe(503);
    await relay();
    await sleep(2000);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d)))).toEqual([]);
    expect(await outboxHolds("key.revoked", key.id)).toBe(false);
  });

  it("D1 down while the event is fanned out: the queue offers it again, and it is delivered", async () => {
    const { name } = await endpointWithReceiver(["key.suspended"]);
    const key = await createKey();
    const event = raise("key.suspended", { abuse: { refusals: 11 } }, key.id);
    const message = { id: "msg-1", timestamp: Date.now(), attempts: 1, body: { kind: "event", event } satisfies QueueMessage };
    const down = createMessageBatch<QueueMessage>("keygate-events", [message]);
    const ctx = createExecutionContext();
    await worker.queue(down, { ...env, DB: throwing<D1Database>("D1") } as Env, ctx);
    const result = await getQueueResult(down, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["msg-1"]);
    // offered again with D1 back: fanned out, and the key's record filled in
    const again = createMessageBatch<QueueMessage>("keygate-events", [{ ...message, attempts: 2 }]);
    const ctx2 = createExecutionContext();
    await worker.queue(again, env, ctx2);
    expect((await getQueueResult(again, ctx2)).explicitAcks).toEqual(["msg-1"]);
    const [delivery] = await deliveriesTo(name, aboutKey(key.id, "key.suspended"));
    expect(delivery.id).toBe(event.id);
    expect(payloadOf(delivery).data).toMatchObject({ key: { id: key.id, name: "test key" }, abuse: { refusals: 11 } });
  });
});

describe("an event raised while the queue fails", () => {
  it("the lineage's home writes the change's events to the outbox with the change, and the relay delivers them", async () => {
    const { name } = await endpointWithReceiver(["key.revoked"]);
    const key = await createKey({ scopes: ["posts:read"] });
    const { call } = gatewayWith({});
    for (let i = 0; i < 2; i++) expect((await call("/posts", key.key)).status).toBe(200); // the home exists
    const res = await revoke(gatewayWith({ EVENTS: throwing<Queue>("the queue") }), key.id);
    expect(res.status).toBe(200);
    expect(await outboxHolds("key.revoked", key.id)).toBe(true);
    await relay();
    const [delivery] = await deliveriesTo(name, aboutKey(key.id, "key.revoked"));
    expect(delivery.verified).toEqual([true]);
  });

  it("a test whose retry cannot be queued still answers its attempt, with no retry to come", async () => {
    const { webhook, name } = await endpointWithReceiver(["webhook.test"], "status:500");
    const gateway = gatewayWith({ EVENTS: throwing<Queue>("the queue") });
    const res = await gateway.call(`/admin/webhooks/${webhook.id}/test`, ADMIN_TOKEN, { method: "POST" });
    expect(res.status, await res.clone().text()).toBe(200);
    const result = (await res.json()) as { attempt: { status: string; statusCode: number; nextRetryAt: string | null } };
    expect(result.attempt).toMatchObject({ status: "failed", statusCode: 500, nextRetryAt: null });
    expect((await received(name)).length).toBe(1);
  });

  it("stays in the outbox with its change, and the every-minute relay delivers it", async () => {
    const { name } = await endpointWithReceiver(["key.revoked"]);
    const key = await createKey();
    const res = await revoke(gatewayWith({ EVENTS: throwing<Queue>("the queue") }), key.id);
    expect(res.status).toBe(200);
    expect(await outboxHolds("key.revoked", key.id)).toBe(true);
    await sleep(1500);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d)))).toEqual([]);
    // too young for the relay: it may still be on its way
    await relay(0);
    expect(await outboxHolds("key.revoked", key.id)).toBe(true);
    await relay();
    const [delivery] = await deliveriesTo(name, aboutKey(key.id, "key.revoked"));
    expect(delivery.verified).toEqual([true]);
    expect(await outboxHolds("key.revoked", key.id)).toBe(false);
  });
});
