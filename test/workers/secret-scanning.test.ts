import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, call, createKey, send, type Created } from "./helpers";
import { body } from "./admin-helpers";
import { expectProblem, gatewayWith, getRecord, sha256Hex, unknownKey } from "./gateway-helpers";
import { base64Hash, foreignKey, importGateway, imported } from "./import-helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, eventually, payloadOf, received, sleep } from "./webhook-helpers";

/**
 * DESIGN.md, "Lifecycle rules", leaked keys: GitHub's secret-scanning partner reports, signed
 * with ECDSA P-256 SHA-256 under a key GitHub publishes. Here the test origin publishes the keys
 * (SECRET_SCANNING_KEYS_URL) and hands the tests the private key that signs.
 */

const PATH = "/.well-known/keygate/secret-scanning/github";

let signingKey: Promise<CryptoKey> | undefined;
function privateKey(): Promise<CryptoKey> {
  signingKey ??= fetch(`${env.UPSTREAM_URL}/github/private-key`)
    .then((r) => r.json() as Promise<{ pkcs8: string }>)
    .then(({ pkcs8 }) =>
      crypto.subtle.importKey("pkcs8", Uint8Array.from(atob(pkcs8), (c) => c.charCodeAt(0)), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]),
    );
  return signingKey;
}

/** r‖s as ASN.1 DER, as GitHub sends signatures. */
function der(raw: Uint8Array): Uint8Array {
  const int = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const trimmed = bytes.slice(i);
    return trimmed[0] & 0x80 ? [0x02, trimmed.length + 1, 0, ...trimmed] : [0x02, trimmed.length, ...trimmed];
  };
  const content = [...int(raw.slice(0, 32)), ...int(raw.slice(32))];
  return new Uint8Array([0x30, content.length, ...content]);
}

async function signature(text: string): Promise<string> {
  const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, await privateKey(), new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...der(raw)));
}

interface Item {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

async function report(items: Item[] | string, options: { identifier?: string; sign?: string; gateway?: ReturnType<typeof gatewayWith> } = {}): Promise<Response> {
  const text = typeof items === "string" ? items : JSON.stringify(items.map((i) => ({ type: "keygate_api_key", url: "https://github.com/acme/app/blob/abc/config.js", source: "content", ...i })));
  const headers = {
    "Content-Type": "application/json",
    "Github-Public-Key-Identifier": options.identifier ?? "test-key-current",
    "Github-Public-Key-Signature": await signature(options.sign ?? text),
  };
  if (options.gateway) return options.gateway.call(PATH, null, { method: "POST", headers, body: text });
  return send(PATH, { method: "POST", headers, body: text });
}

type Label = { token_hash: string; token_type: string; label: string };

async function labels(res: Response): Promise<Label[]> {
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

const keyAudit = async (id: string) =>
  (await body<{ data: { action: string; actor: string; changes: Record<string, { to: unknown }> }[] }>(await admin(`/audit?targetId=${id}`), 200)).data;

describe("a verified report", () => {
  it("revokes a reported key (the next request is KEY_REVOKED), audits it with the report's url, and sends key.leaked", async () => {
    const { name } = await endpointWithReceiver(["key.leaked", "key.revoked"]);
    const key = await createKey({ scopes: ["posts:read"] });
    expect((await call("/posts", key.key)).status).toBe(200);
    const answer = await labels(await report([{ token: key.key }]));
    expect(answer).toEqual([{ token_hash: await sha256Hex(new TextEncoder().encode(key.key)), token_type: "keygate_api_key", label: "true_positive" }]);
    await expectProblem(await call("/posts", key.key), 401, "KEY_REVOKED");
    const audit = await keyAudit(key.id);
    expect(audit[0]).toMatchObject({ action: "key.revoke", actor: "github-secret-scanning" });
    expect(audit[0].changes.leak.to).toMatchObject({ url: "https://github.com/acme/app/blob/abc/config.js", source: "content", action: "revoke" });
    const [leaked] = await deliveriesTo(name, aboutKey(key.id, "key.leaked"));
    expect(leaked.verified).toEqual([true]);
    expect(payloadOf(leaked).data).toMatchObject({ key: { id: key.id }, leak: { url: "https://github.com/acme/app/blob/abc/config.js", action: "revoke" } });
    expect(leaked.body).not.toContain(key.key);
    await deliveriesTo(name, aboutKey(key.id, "key.revoked"));
    // a security event, with no more of the key than its first 12 characters
    const events = await eventually(async () => {
      const page = await body<{ data: { keyId: string; keyStart: string; code: string }[] }>(await admin("/security-events?code=KEY_LEAKED&limit=100"), 200);
      return page.data.filter((e) => e.keyId === key.id).length ? page.data.filter((e) => e.keyId === key.id) : null;
    });
    expect(events).toHaveLength(1);
    expect(events[0].keyStart).toBe(key.key.slice(0, 12));
  });

  it("handles a token reported twice once: in one report, and again in a later one", async () => {
    const { name } = await endpointWithReceiver(["key.leaked"]);
    const key = await createKey();
    const twice = await labels(await report([{ token: key.key }, { token: key.key, url: "https://github.com/other" }]));
    expect(twice.map((l) => l.label)).toEqual(["true_positive", "true_positive"]);
    expect(twice[0].token_hash).toBe(twice[1].token_hash);
    const again = await labels(await report([{ token: key.key }]));
    expect(again[0].label).toBe("true_positive");
    await deliveriesTo(name, aboutKey(key.id, "key.leaked"));
    await sleep(2000);
    expect((await received(name)).filter((d) => aboutKey(key.id)(payloadOf(d)))).toHaveLength(1);
    expect((await keyAudit(key.id)).filter((a) => a.actor === "github-secret-scanning")).toHaveLength(1);
  });

  it("labels tokens that are no key keygate holds false_positive, and changes nothing", async () => {
    const stranger = unknownKey();
    const answer = await labels(await report([{ token: "ghp_notakeygatekey0000000000000000000000" }, { token: stranger }, { token: "kg_live_notevenwellformed" }]));
    expect(answer.map((l) => l.label)).toEqual(["false_positive", "false_positive", "false_positive"]);
    expect(answer[1].token_hash).toBe(await sha256Hex(new TextEncoder().encode(stranger)));
  });

  it("a test key is a key keygate holds: true_positive, and revoked like any other", async () => {
    const key = await createKey({ environment: "test" });
    expect((await labels(await report([{ token: key.key }])))[0].label).toBe("true_positive");
    expect((await getRecord(key.id)).revokedAt).not.toBeNull();
  });

  it("a key already revoked is true_positive, noted (key.leak) and sent as key.leaked, not revoked again", async () => {
    const { name } = await endpointWithReceiver(["key.leaked"]);
    const key = await createKey();
    const revoked = await body<{ revokedAt: string; version: number }>(await admin(`/keys/${key.id}`, { method: "DELETE" }), 200);
    expect((await labels(await report([{ token: key.key }])))[0].label).toBe("true_positive");
    const record = await getRecord(key.id);
    expect(record).toMatchObject({ revokedAt: revoked.revokedAt, version: revoked.version });
    expect((await keyAudit(key.id))[0]).toMatchObject({ action: "key.leak", actor: "github-secret-scanning" });
    await deliveriesTo(name, aboutKey(key.id, "key.leaked"));
  });
});

describe("imported keys (IMPORTED_KEY_PREFIXES)", () => {
  it("a leaked imported key, imported by its plaintext or by its hash, is a key keygate holds: true_positive, revoked, sent as key.leaked", async () => {
    const { name } = await endpointWithReceiver(["key.leaked"]);
    const gateway = importGateway();
    const [plain, hashed] = [foreignKey(), foreignKey("bs_", 40)];
    const [a, b] = await imported(gateway, {
      keys: [
        { name: "legacy", ownerId: "acct_legacy", key: plain },
        { name: "legacy hashed", ownerId: "acct_legacy", hash: await base64Hash(hashed) },
      ],
    });
    expect((await gateway.call("/echo", hashed)).status).toBe(200);
    const answer = await labels(await report([{ token: plain, type: "legacy_api_key" }, { token: hashed, type: "legacy_api_key" }], { gateway }));
    expect(answer.map((l) => l.label)).toEqual(["true_positive", "true_positive"]);
    expect((await getRecord(a.id!)).revokedAt).not.toBeNull();
    expect((await getRecord(b.id!)).revokedAt).not.toBeNull();
    await expectProblem(await gateway.call("/echo", hashed), 401, "KEY_REVOKED");
    await deliveriesTo(name, aboutKey(b.id!, "key.leaked"));
  });
});

describe("LEAK_ACTION", () => {
  const leak = async (action: string, key: Created) => labels(await report([{ token: key.key }], { gateway: gatewayWith({ LEAK_ACTION: action }) }));

  it("disable: the key is disabled (KEY_DISABLED), audited, and sent as key.leaked", async () => {
    const { name } = await endpointWithReceiver(["key.leaked"]);
    const key = await createKey({ scopes: ["posts:read"] });
    await leak("disable", key);
    await expectProblem(await call("/posts", key.key), 403, "KEY_DISABLED");
    expect((await keyAudit(key.id))[0]).toMatchObject({ action: "key.update", actor: "github-secret-scanning" });
    expect(payloadOf((await deliveriesTo(name, aboutKey(key.id, "key.leaked")))[0]).data).toMatchObject({ leak: { action: "disable" } });
  });

  it("notify: the key keeps working; the leak is audited and sent", async () => {
    const { name } = await endpointWithReceiver(["key.leaked"]);
    const key = await createKey({ scopes: ["posts:read"] });
    await leak("notify", key);
    expect((await call("/posts", key.key)).status).toBe(200);
    const audit = await keyAudit(key.id);
    expect(audit[0]).toMatchObject({ action: "key.leak", actor: "github-secret-scanning" });
    expect(audit[0].changes.leak.to).toMatchObject({ url: "https://github.com/acme/app/blob/abc/config.js", action: "notify" });
    await deliveriesTo(name, aboutKey(key.id, "key.leaked"));
  });
});

describe("a report that does not verify changes nothing", () => {
  const unchanged = async (key: Created) => {
    expect((await getRecord(key.id)).revokedAt).toBeNull();
    expect((await call("/posts", key.key)).status).toBe(200);
  };

  it("a tampered report: 401", async () => {
    const key = await createKey({ scopes: ["posts:read"] });
    const signedFor = JSON.stringify([{ token: "ghp_harmless", type: "x", url: "u", source: "content" }]);
    await expectProblem(await report([{ token: key.key }], { sign: signedFor }), 401, "UNAUTHORIZED");
    await unchanged(key);
  });

  it("a signature that is not one: 401", async () => {
    const key = await createKey({ scopes: ["posts:read"] });
    const text = JSON.stringify([{ token: key.key, type: "t", url: "u", source: "s" }]);
    for (const sig of ["not base64 at all!", btoa("short"), ""]) {
      const res = await send(PATH, { method: "POST", headers: { "Github-Public-Key-Identifier": "test-key-current", "Github-Public-Key-Signature": sig }, body: text });
      await expectProblem(res, 401, "UNAUTHORIZED");
    }
    await expectProblem(await send(PATH, { method: "POST", body: text }), 401, "UNAUTHORIZED");
    await unchanged(key);
  });

  it("a key identifier GitHub does not publish: 401", async () => {
    const key = await createKey({ scopes: ["posts:read"] });
    const problem = await expectProblem(await report([{ token: key.key }], { identifier: "no-such-key" }), 401, "UNAUTHORIZED");
    expect(problem.detail).toMatch(/key identifier/);
    // signed with the key GitHub published under another identifier
    await expectProblem(await report([{ token: key.key }], { identifier: "test-key-old" }), 401, "UNAUTHORIZED");
    await unchanged(key);
  });

  it("a signed body that is not JSON, or not a list of tokens: 400", async () => {
    await expectProblem(await report("this is not JSON"), 400, "VALIDATION_FAILED");
    await expectProblem(await report('{"token":"x"}'), 400, "VALIDATION_FAILED");
    await expectProblem(await report('[{"type":"x"}]'), 400, "VALIDATION_FAILED");
  });

  it("GitHub's keys cannot be fetched: 503, nothing changed", async () => {
    const key = await createKey({ scopes: ["posts:read"] });
    const down = gatewayWith({ SECRET_SCANNING_KEYS_URL: "http://127.0.0.1:9/meta/public_keys/secret_scanning" });
    const res = await report([{ token: key.key }], { gateway: down });
    await expectProblem(res, 503, "GATEWAY_UNAVAILABLE");
    expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
    await unchanged(key);
  });
});
