import { describe, expect, it } from "vitest";
import type { CreatedKey, CreatedWebhook, DeliveryAttempt, SecurityEvent, Webhook, WebhookTestResult } from "../../client/index.ts";
import { expectFits, expectRefused, expectUsageError, jsonOf, keygate, uniqueOwner, useTestGateway } from "./cli-support.ts";
import type { ReceivedDelivery } from "../support/origin.ts";

/** `keygate webhooks ...` and `keygate security-events`, the real binary against keygate in workerd. */
const gw = useTestGateway({
  USAGE_FLUSH_MS: "50",
  WEBHOOK_RETRY_SECONDS: "[1,1,1]",
  WEBHOOK_TIMEOUT_MS: "1000",
  // test keys must expire within 30 days; live keys are left alone (the other tests make them)
  KEY_POLICY: JSON.stringify({ test: { maxLifetimeDays: 30, requireExpiry: true } }),
});

const run = (...args: string[]) => keygate(args, { env: gw.env });
let receivers = 0;
const receiver = () => `cli-${Date.now().toString(36)}-${++receivers}`;
const hook = (name: string) => `${gw.origin}/hooks/${name}`;
const configure = (name: string, secrets: string[], mode = "ok") =>
  fetch(`${hook(name)}/config`, { method: "POST", body: JSON.stringify({ secrets, mode }) });
const received = async (name: string) => (await (await fetch(`${hook(name)}/received`)).json()) as ReceivedDelivery[];

async function until<T>(check: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("keygate webhooks create", () => {
  it("prints the endpoint and its secret once, with a warning; --json prints the API's answer", async () => {
    const name = receiver();
    const result = await run("webhooks", "create", hook(name), "--event", "key.revoked", "--event", "key.leaked", "--description", "fraud desk");
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Created whk_[0-9A-HJKMNP-TV-Z]{26}\.$/);
    expect(result.stdout).toMatch(new RegExp(`URL\\s+${hook(name)}\n`));
    expect(result.stdout).toMatch(/Events\s+key\.revoked key\.leaked\n/);
    expect(result.stdout).toMatch(/Description\s+fraud desk\n/);
    const secrets = lines.filter((line) => line.startsWith("whsec_"));
    expect(secrets).toHaveLength(1);
    expect(secrets[0]).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(result.stdout).toContain("Save this secret now: it will not be shown again.");
    expectFits(result.stdout);
    const json = await run("webhooks", "create", hook(receiver()), "--event", "*", "--json");
    const created = jsonOf<CreatedWebhook>(json);
    expect(created).toMatchObject({ events: ["*"], enabled: true });
    expect(json.stderr).toContain("Save this secret now");
  });

  it("refuses an http: URL that is not loopback (400, exit 1), and an unknown event type (exit 2)", async () => {
    expectRefused(await run("webhooks", "create", "http://example.com/hooks", "--event", "*"), "Validation failed", 400, "VALIDATION_FAILED", /url/);
    expectRefused(
      await run("webhooks", "create", "https://user:pw@example.com/hooks", "--event", "*"),
      "Validation failed",
      400,
      "VALIDATION_FAILED",
      /credentials/,
    );
    expectUsageError(await run("webhooks", "create", "https://example.com/hooks", "--event", "key.exploded"), /unknown event type key\.exploded/, "keygate webhooks create");
    expectUsageError(await run("webhooks", "create", "https://example.com/hooks"), /--event/, "keygate webhooks create");
  });
});

describe("keygate webhooks list, test, deliveries and delete", () => {
  it("tests an endpoint (verified by the receiver), lists its deliveries, and deletes it", async () => {
    const name = receiver();
    const created = jsonOf<CreatedWebhook>(await run("webhooks", "create", hook(name), "--event", "key.created", "--json"));
    await configure(name, [created.secret]);

    const listed = await run("webhooks", "list");
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID\s+URL\s+EVENTS\s+STATUS/);
    expect(listed.stdout).toContain(created.id);
    expectFits(listed.stdout);
    expect(jsonOf<{ data: Webhook[] }>(await run("webhooks", "list", "--json", "--all")).data.map((w) => w.id)).toContain(created.id);

    const tested = await run("webhooks", "test", created.id);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^Sent a test event to whk_/);
    expect(tested.stdout).toMatch(/Event\s+evt_[0-9A-HJKMNP-TV-Z]{26} \(webhook\.test\)/);
    expect(tested.stdout).toMatch(/Result\s+delivered: HTTP 204/);
    const [delivery] = await received(name);
    expect(delivery.verified).toEqual([true]);
    expect(JSON.parse(delivery.body)).toMatchObject({ type: "webhook.test" });

    // an event about a key, retried once the receiver fails
    await configure(name, [created.secret], "fail-first:1");
    const key = (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: "hooked", ownerId: uniqueOwner() } })).body;
    await until(async () => ((await received(name)).filter((d) => d.body.includes(key.id)).length >= 2 ? true : null));
    const attempts = await until(async () => {
      const list = jsonOf<{ data: DeliveryAttempt[] }>(await run("webhooks", "deliveries", created.id, "--json"));
      return list.data.length >= 3 ? list.data : null;
    });
    expect(attempts.map((a) => [a.eventType, a.attempt, a.status])).toEqual([
      ["key.created", 2, "succeeded"],
      ["key.created", 1, "failed"],
      ["webhook.test", 1, "succeeded"],
    ]);
    const table = await run("webhooks", "deliveries", created.id);
    expect(table.stdout.split("\n")[0]).toMatch(/^WHEN\s+TYPE\s+.*#\s+RESULT\s+MS/);
    expect(table.stdout).toContain("answered HTTP 500");
    expectFits(table.stdout);
    const failed = jsonOf<{ data: DeliveryAttempt[] }>(await run("webhooks", "deliveries", created.id, "--status", "failed", "--json"));
    expect(failed.data.map((a) => a.status)).toEqual(["failed"]);

    const deleted = await run("webhooks", "delete", created.id);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe(`Deleted ${created.id}.\n`);
    expectRefused(await run("webhooks", "test", created.id), "Not found", 404, "NOT_FOUND", created.id);
  });

  it("a test the receiver does not take exits 1 and says why", async () => {
    const name = receiver();
    const created = jsonOf<CreatedWebhook>(await run("webhooks", "create", hook(name), "--event", "webhook.test", "--json"));
    await configure(name, [created.secret], "status:503");
    const tested = await run("webhooks", "test", created.id);
    expect(tested.code).toBe(1);
    expect(tested.stdout).toMatch(/^The test event to whk_\w+ failed; it will be retried\./);
    expect(tested.stdout).toMatch(/Result\s+failed: answered HTTP 503/);
    expect(tested.stderr).toMatch(/did not accept the test event/);
    const json = jsonOf<WebhookTestResult>(await run("webhooks", "test", created.id, "--json").then((r) => ({ ...r, code: 0 })));
    expect(json.attempt).toMatchObject({ status: "failed", statusCode: 503 });
    await run("webhooks", "delete", created.id);
  });

  it("--help lists the subcommands, each with an example", async () => {
    const help = await run("webhooks", "--help");
    for (const sub of ["list", "create", "test", "deliveries", "delete"]) expect(help.stdout).toMatch(new RegExp(`^  ${sub}\\b`, "m"));
    expect((await run("webhooks", "create", "--help")).stdout).toContain("Examples:");
  });
});

describe("keygate security-events", () => {
  it("lists refusals before a key is known, filtered by code and address", async () => {
    const stranger = "kg_live_" + "0".repeat(43) + "000000";
    for (let i = 0; i < 2; i++) await fetch(`${gw.url}/anything`, { headers: { Authorization: `Bearer ${stranger}x`, "CF-Connecting-IP": "192.0.2.77" } });
    const events = await until(async () => {
      const page = jsonOf<{ data: SecurityEvent[] }>(await run("security-events", "--code", "MALFORMED_KEY", "--ip", "192.0.2.77", "--json"));
      return page.data.length >= 2 ? page.data : null;
    });
    expect(events.every((e) => e.code === "MALFORMED_KEY" && e.ip === "192.0.2.77" && e.keyStart === stranger.slice(0, 12))).toBe(true);
    const table = await run("security-events", "--ip", "192.0.2.77");
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^WHEN\s+CODE\s+IP\s+KEY/);
    expect(table.stdout).toContain("MALFORMED_KEY");
    expectFits(table.stdout);
    expectUsageError(await run("security-events", "--code", "OK"), /--code/, "keygate security-events");
  });
});

describe("a key the abuse rule suspended", () => {
  it("shows as suspended in keys get and keys list, and keys update --lift-suspension lifts it", async () => {
    const key = (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: "flooder", ownerId: uniqueOwner() } })).body;
    const until = Date.now() + 600_000;
    // as the admission objects ask for it (src/events/notice.ts, requestSuspension)
    await gw.enqueue({ kind: "suspend", suspension: { keyId: key.id, until, at: Date.now(), policy: { rateLimitedPerMinute: 10, suspendSeconds: 600 }, refusals: 11 } });
    await until_(async () => ((await gw.api<KeyRecordLike>(`/keys/${key.id}`)).body.suspendedUntil ? true : null));
    const refused = await fetch(`${gw.url}/anything`, { headers: { Authorization: `Bearer ${key.key}` } });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { code: string }).code).toBe("KEY_SUSPENDED");
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(500);

    const shown = await run("keys", "get", key.id);
    expect(shown.stdout).toMatch(/Status\s+suspended\n/);
    expect(shown.stdout).toMatch(/Suspended until\s+in (9|10) minutes \(20\d\d-/);
    expect((await run("keys", "list", "--owner", key.ownerId)).stdout).toMatch(/flooder\s+.*suspended/);

    const lifted = jsonOf<{ suspendedUntil: string | null; version: number }>(await run("keys", "update", key.id, "--lift-suspension", "--json"));
    expect(lifted).toMatchObject({ suspendedUntil: null, version: 3 });
    expect((await fetch(`${gw.url}/anything`, { headers: { Authorization: `Bearer ${key.key}` } })).status).toBe(200);
  });
});

interface KeyRecordLike {
  suspendedUntil: string | null;
}

const until_ = until;

describe("KEY_POLICY through the CLI", () => {
  it("a test key gets 30 days when it asks for no expiry, and asking for more is refused naming the rule", async () => {
    const created = jsonOf<CreatedKey>(await run("keys", "create", "--name", "ci", "--owner", uniqueOwner(), "--env", "test", "--json"));
    expect(Date.parse(created.expiresAt!) - Date.parse(created.createdAt)).toBe(30 * 86_400_000);
    expectRefused(
      await run("keys", "create", "--name", "ci", "--owner", uniqueOwner(), "--env", "test", "--expires-in", String(31 * 86_400)),
      "Validation failed",
      400,
      "VALIDATION_FAILED",
      "KEY_POLICY.test.maxLifetimeDays",
    );
  });
});
