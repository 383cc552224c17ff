import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, createKey } from "./helpers";
import { body } from "./admin-helpers";
import { patchKey, revokeKey, rotateKey } from "./gateway-helpers";
import {
  aboutKey,
  configureReceiver,
  deliveriesTo,
  endpointWithReceiver,
  eventually,
  forget,
  payloadOf,
  received,
  receiverName,
  receiverUrl,
  sleep,
  type Received,
  type Webhook,
} from "./webhook-helpers";

/**
 * DESIGN.md, "Events and webhooks": every delivery is a Standard Webhooks POST that the
 * `standardwebhooks` package verifies (the test origin's receiver does, in Node), retried with
 * backoff until a 2xx. WEBHOOK_RETRY_SECONDS is [1,1,1] and WEBHOOK_TIMEOUT_MS 1000 here.
 */

function expectVerified(deliveries: Received[]) {
  for (const d of deliveries) {
    expect(d.error, d.body).toBeNull();
    expect(d.verified.every(Boolean)).toBe(true);
    expect(d.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*( v1,[A-Za-z0-9+/]+=*)*$/);
    expect(Number(d.timestamp)).toBeGreaterThan(Date.now() / 1000 - 60);
  }
}

interface Attempt {
  eventId: string;
  eventType: string;
  attempt: number;
  status: string;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  nextRetryAt: string | null;
}

const attemptsOf = async (id: string) => (await body<{ data: Attempt[] }>(await admin(`/webhooks/${id}/deliveries?limit=100`), 200)).data;

describe("deliveries of key events, verified by the standardwebhooks package", () => {
  it("key.created, key.updated, key.rotated and key.revoked, each with the record and never a secret", async () => {
    const { name } = await endpointWithReceiver(["key.created", "key.updated", "key.rotated", "key.revoked"]);
    const created = await createKey({ scopes: ["posts:read"] });
    const [c] = await deliveriesTo(name, aboutKey(created.id, "key.created"));
    expectVerified([c]);
    const payload = payloadOf(c);
    expect(Object.keys(payload).sort()).toEqual(["data", "timestamp", "type"]);
    expect(c.id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Date.parse(payload.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(payload.data.key).toMatchObject({ id: created.id, name: "test key", scopes: ["posts:read"], version: 1 });
    expect(c.body).not.toContain(created.key);
    expect(c.body).not.toMatch(/"hash"/);

    await patchKey(created.id, { name: "renamed" });
    const [u] = await deliveriesTo(name, aboutKey(created.id, "key.updated"));
    expectVerified([u]);
    expect(payloadOf(u).data).toMatchObject({ key: { name: "renamed", version: 2 }, changes: { name: { from: "test key", to: "renamed" } } });

    const successor = await rotateKey(created.id, 60);
    const [r] = await deliveriesTo(name, aboutKey(successor.id, "key.rotated"));
    expectVerified([r]);
    expect(payloadOf(r).data).toMatchObject({ key: { id: successor.id, rotatedFrom: created.id }, previousKey: { id: created.id } });
    expect(r.body).not.toContain(successor.key);

    await revokeKey(successor.id);
    const [v] = await deliveriesTo(name, aboutKey(successor.id, "key.revoked"));
    expectVerified([v]);
    expect((payloadOf(v).data.key as unknown as { revokedAt: string | null }).revokedAt).not.toBeNull();
    // each once, and nothing the endpoint did not ask for
    const all = (await received(name)).filter((d) => [created.id, successor.id].includes(payloadOf(d).data.key?.id ?? ""));
    expect(all.map((d) => payloadOf(d).type).sort()).toEqual(["key.created", "key.revoked", "key.rotated", "key.updated"]);
  });

  it("only the types an endpoint asked for reach it; * takes every type", async () => {
    const narrow = await endpointWithReceiver(["key.revoked"]);
    const wide = await endpointWithReceiver(["*"]);
    const key = await createKey();
    await revokeKey(key.id);
    await deliveriesTo(wide.name, aboutKey(key.id), 2);
    const [revoked] = await deliveriesTo(narrow.name, aboutKey(key.id, "key.revoked"));
    expectVerified([revoked]);
    await sleep(500);
    expect((await received(narrow.name)).filter((d) => aboutKey(key.id)(payloadOf(d))).map((d) => payloadOf(d).type)).toEqual(["key.revoked"]);
  });

  it("webhook.test is sent now, and answers the attempt", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created"]);
    const result = await body<{ eventId: string; type: string; attempt: Attempt }>(await admin(`/webhooks/${webhook.id}/test`, { method: "POST" }), 200);
    expect(result.type).toBe("webhook.test");
    expect(result.attempt).toMatchObject({ eventId: result.eventId, eventType: "webhook.test", attempt: 1, status: "succeeded", statusCode: 204, error: null, nextRetryAt: null });
    const [t] = (await received(name)).filter((d) => d.id === result.eventId);
    expectVerified([t]);
    expect(payloadOf(t)).toMatchObject({ type: "webhook.test", data: { webhook: { id: webhook.id } } });
  });

  it("after a secret rotation, deliveries carry both signatures for 24 hours", async () => {
    const { name, webhook, secret } = await endpointWithReceiver(["webhook.test"]);
    const rotated = await body<{ secret: string }>(await admin(`/webhooks/${webhook.id}/rotate-secret`, { method: "POST" }), 200);
    await configureReceiver(name, [secret, rotated.secret]);
    const { eventId } = await body<{ eventId: string }>(await admin(`/webhooks/${webhook.id}/test`, { method: "POST" }), 200);
    const [d] = (await received(name)).filter((r) => r.id === eventId);
    expect(d.verified).toEqual([true, true]);
    expect(d.signature.split(" ")).toHaveLength(2);
    // a receiver that knows only the new secret accepts it too
    await configureReceiver(name, [rotated.secret]);
    const again = await body<{ eventId: string }>(await admin(`/webhooks/${webhook.id}/test`, { method: "POST" }), 200);
    expect((await received(name)).find((r) => r.id === again.eventId)!.verified).toEqual([true]);
  });
});

describe("at least once", () => {
  it("retries after failures with the same webhook-id until a 2xx, recording every attempt", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created"], "fail-first:2");
    const key = await createKey();
    const deliveries = await deliveriesTo(name, aboutKey(key.id, "key.created"), 3);
    expectVerified(deliveries);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(1);
    expect(deliveries.map((d) => d.answered)).toEqual([500, 500, 204]);
    // about a second apart (WEBHOOK_RETRY_SECONDS)
    expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(900);
    const attempts = await eventually(async () => {
      const list = (await attemptsOf(webhook.id)).filter((a) => a.eventId === deliveries[0].id);
      return list.length === 3 ? list : null;
    });
    expect(attempts.map((a) => [a.attempt, a.status, a.statusCode])).toEqual([
      [3, "succeeded", 204],
      [2, "failed", 500],
      [1, "failed", 500],
    ]);
    expect(attempts[1].nextRetryAt).not.toBeNull();
    expect(attempts[0].nextRetryAt).toBeNull();
    expect((await body<Webhook>(await admin(`/webhooks/${webhook.id}`), 200)).failingSince).toBeNull();
  });

  it("a receiver that always answers 500 gets every scheduled attempt, then no more", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created"], "status:500");
    const key = await createKey();
    const deliveries = await deliveriesTo(name, aboutKey(key.id, "key.created"), 4);
    await sleep(2500);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d)))).toHaveLength(4);
    const attempts = (await attemptsOf(webhook.id)).filter((a) => a.eventId === deliveries[0].id);
    expect(attempts.map((a) => a.attempt)).toEqual([4, 3, 2, 1]);
    expect(attempts.every((a) => a.status === "failed" && a.statusCode === 500 && a.error === "answered HTTP 500")).toBe(true);
    expect(attempts[0].nextRetryAt).toBeNull();
    const endpoint = await body<Webhook>(await admin(`/webhooks/${webhook.id}`), 200);
    expect(endpoint.enabled).toBe(true);
    expect(endpoint.failingSince).not.toBeNull();
  });

  it("410 disables the endpoint, with an audit entry by keygate; nothing more is sent to it", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created", "key.revoked"], "status:410");
    const key = await createKey();
    await deliveriesTo(name, aboutKey(key.id, "key.created"));
    const endpoint = await eventually(async () => {
      const w = await body<Webhook>(await admin(`/webhooks/${webhook.id}`), 200);
      return w.enabled ? null : w;
    });
    expect(endpoint.disabledReason).toBe("gone");
    const audit = await body<{ data: { action: string; actor: string }[] }>(await admin(`/audit?targetId=${webhook.id}&action=webhook.disable`), 200);
    expect(audit.data).toMatchObject([{ action: "webhook.disable", actor: "keygate" }]);
    await revokeKey(key.id);
    await sleep(2500);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d))).map((d) => payloadOf(d).type)).toEqual(["key.created"]);
    // enabling it again clears why it was disabled
    const enabled = await body<Webhook>(await admin(`/webhooks/${webhook.id}`, { method: "PATCH", json: { enabled: true } }), 200);
    expect(enabled).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
  });

  it("an endpoint failing for 3 days in a row is disabled, with an audit entry", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created"], "status:503");
    // Its failures began three days ago (the queue cannot wait that long here).
    await env.DB.prepare("UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?").bind(Date.now() - 3 * 86_400_000 - 1000, webhook.id).run();
    const key = await createKey();
    await deliveriesTo(name, aboutKey(key.id, "key.created"));
    const endpoint = await eventually(async () => {
      const w = await body<Webhook>(await admin(`/webhooks/${webhook.id}`), 200);
      return w.enabled ? null : w;
    });
    expect(endpoint.disabledReason).toBe("failing");
    const audit = await body<{ data: { actor: string; changes: Record<string, { to: unknown }> }[] }>(await admin(`/audit?targetId=${webhook.id}&action=webhook.disable`), 200);
    expect(audit.data[0].actor).toBe("keygate");
    expect(audit.data[0].changes.reason.to).toMatch(/3 days/);
    await sleep(1500);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d)))).toHaveLength(1);
  });

  it("a receiver that hangs past the timeout is given up on and retried", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created"], "hang");
    const key = await createKey();
    const deliveries = await deliveriesTo(name, aboutKey(key.id, "key.created"), 2);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(1);
    const attempts = await eventually(async () => {
      const list = (await attemptsOf(webhook.id)).filter((a) => a.eventId === deliveries[0].id);
      return list.length >= 1 ? list : null;
    });
    const first = attempts.at(-1)!;
    expect(first).toMatchObject({ attempt: 1, status: "failed", statusCode: null, error: "no answer within 1000 ms" });
    expect(first.durationMs).toBeGreaterThanOrEqual(950);
    expect(first.durationMs).toBeLessThan(5000);
    await configureReceiver(name, [], "ok"); // stop hanging before the endpoint is deleted
  });

  it("an unreachable receiver is retried, and each attempt says why it failed", async () => {
    const res = await admin("/webhooks", { method: "POST", json: { url: "http://127.0.0.1:9/hooks", events: ["key.created"] } });
    const webhook = await body<Webhook>(res, 201);
    forget(webhook.id);
    const key = await createKey();
    const attempts = await eventually(async () => {
      const list = (await attemptsOf(webhook.id)).filter((a) => a.eventType === "key.created");
      return list.length >= 2 ? list : null;
    });
    expect(attempts.every((a) => a.status === "failed" && a.statusCode === null && /could not be reached/.test(a.error ?? ""))).toBe(true);
    expect(key.id).toMatch(/^key_/);
  });

  it("a slow receiver gets every event of a burst, each verified", async () => {
    const { name } = await endpointWithReceiver(["key.created"], "slow:400");
    const keys = await Promise.all(Array.from({ length: 12 }, () => createKey()));
    const ids = new Set(keys.map((k) => k.id));
    const deliveries = await deliveriesTo(name, (p) => ids.has(p.data.key?.id ?? ""), 12, 30_000);
    expectVerified(deliveries);
    expect(new Set(deliveries.map((d) => payloadOf(d).data.key!.id))).toEqual(ids);
  });

  it("a deleted endpoint receives nothing more, retries included", async () => {
    const { name, webhook } = await endpointWithReceiver(["key.created"], "status:500");
    const key = await createKey();
    await deliveriesTo(name, aboutKey(key.id));
    expect((await admin(`/webhooks/${webhook.id}`, { method: "DELETE" })).status).toBe(200);
    const seen = (await received(name)).length;
    await sleep(3000);
    expect((await received(name)).length).toBe(seen);
  });
});

describe("receivers' addresses", () => {
  it("a receiver on loopback over http: is fine for local use", async () => {
    const name = receiverName();
    const res = await admin("/webhooks", { method: "POST", json: { url: receiverUrl(name), events: ["webhook.test"] } });
    expect(res.status).toBe(201);
    forget(((await res.json()) as Webhook).id);
  });
});
