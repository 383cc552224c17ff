import { env } from "cloudflare:workers";
import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { createKey } from "./helpers";
import { patchKey, rotateKey, sleep } from "./gateway-helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, payloadOf, received } from "./webhook-helpers";

/**
 * DESIGN.md, "Lifecycle rules": the hourly Cron Trigger sends `key.expiring` (7 days and 1 day
 * before `expiresAt`, once each) and `key.expired`.
 */

async function hourly(): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env);
}

const HOUR = 3600;

describe("expiry notices", () => {
  it("key.expiring 7 days and 1 day before, and key.expired, once each", async () => {
    const { name } = await endpointWithReceiver(["key.expiring", "key.expired"]);
    const inThreeDays = await createKey({ expiresIn: 3 * 24 * HOUR });
    const inTwelveHours = await createKey({ expiresIn: 12 * HOUR });
    const inAMonth = await createKey({ expiresIn: 30 * 24 * HOUR });
    const never = await createKey();
    const soon = await createKey({ expiresIn: 1 });
    await sleep(1100);
    await hourly();

    const [week] = await deliveriesTo(name, aboutKey(inThreeDays.id, "key.expiring"));
    expect(payloadOf(week).data).toMatchObject({ daysBefore: 7, key: { id: inThreeDays.id, expiresAt: inThreeDays.expiresAt } });
    expect(week.verified).toEqual([true]);
    const [day] = await deliveriesTo(name, aboutKey(inTwelveHours.id, "key.expiring"));
    expect(payloadOf(day).data).toMatchObject({ daysBefore: 1 });
    const [gone] = await deliveriesTo(name, aboutKey(soon.id, "key.expired"));
    expect(payloadOf(gone).data.key).toMatchObject({ id: soon.id });

    await hourly();
    await sleep(2500);
    const about = async (id: string) => (await received(name)).filter((d) => aboutKey(id)(payloadOf(d))).map((d) => payloadOf(d).type);
    expect(await about(inThreeDays.id)).toEqual(["key.expiring"]);
    expect(await about(inTwelveHours.id)).toEqual(["key.expiring"]);
    expect(await about(soon.id)).toEqual(["key.expired"]);
    expect(await about(inAMonth.id)).toEqual([]);
    expect(await about(never.id)).toEqual([]);
  });

  it("a key whose expiry moves is noticed again for the new one", async () => {
    const { name } = await endpointWithReceiver(["key.expiring"]);
    const key = await createKey({ expiresIn: 10 * HOUR });
    await hourly();
    await deliveriesTo(name, aboutKey(key.id, "key.expiring"));
    await patchKey(key.id, { expiresAt: new Date(Date.now() + 20 * HOUR * 1000).toISOString() });
    await hourly();
    const both = await deliveriesTo(name, aboutKey(key.id, "key.expiring"), 2);
    expect(new Set(both.map((d) => d.id)).size).toBe(2);
  });

  it("a key retired by a rotation is told of by key.rotated, not by expiry notices", async () => {
    const { name } = await endpointWithReceiver(["key.expiring", "key.expired", "key.rotated"]);
    const key = await createKey();
    await rotateKey(key.id, 3600);
    await hourly();
    await deliveriesTo(name, (p) => p.type === "key.rotated" && (p.data.previousKey as { id: string }).id === key.id);
    await sleep(2000);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d)))).toEqual([]);
  });
});
