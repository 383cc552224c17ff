import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, createKey, type Created } from "./helpers";
import { body, sha256Hex } from "./admin-helpers";

/** Everything a client can read from a response: status line, headers and body. */
async function seen(res: Response): Promise<string> {
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${await res.text()}`;
}

async function secretsOf(key: string): Promise<string[]> {
  return [key, await sha256Hex(key)];
}

function expectNoSecrets(texts: string[], secrets: string[]) {
  for (const text of texts) {
    for (const secret of secrets) expect(text.includes(secret), `${secret.slice(0, 12)}… leaked in ${text.slice(0, 300)}`).toBe(false);
  }
}

describe("the plaintext key and its hash", () => {
  it("never appear in an admin response after creation, nor after rotation", async () => {
    const created = await createKey({ scopes: ["posts:read"], credits: { remaining: 5, refill: null } });
    const oldSecrets = await secretsOf(created.key);
    const texts: string[] = [];
    const read = async (path: string, init: Parameters<typeof admin>[1] = {}) => texts.push(await seen(await admin(path, init)));

    await read(`/keys/${created.id}`);
    await read(`/keys?ownerId=${created.ownerId}`);
    await read(`/keys/${created.id}`, { method: "PATCH", json: { name: "renamed", metadata: { a: 1 } } });
    await read("/keys/verify", { method: "POST", json: { key: created.key } });
    await read("/keys/verify", { method: "POST", json: { key: created.key, scopes: ["posts:write"] } });
    await read(`/audit?targetId=${created.id}`);

    const rotation = await admin(`/keys/${created.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 60 } });
    const rotationText = await seen(rotation.clone());
    const successor = await body<Created>(rotation, 201);
    expectNoSecrets([rotationText], oldSecrets);
    const newSecrets = await secretsOf(successor.key);
    // The rotation answer shows the new key once, and only in `key`.
    expect(rotationText.split(successor.key).length - 1).toBe(1);
    expect(rotationText.includes(newSecrets[1])).toBe(false);

    for (const id of [created.id, successor.id]) {
      await read(`/keys/${id}`);
      await read(`/audit?targetId=${id}`);
    }
    await read(`/keys?ownerId=${created.ownerId}`);
    await read("/keys/verify", { method: "POST", json: { key: successor.key } });
    await read("/audit?limit=100");
    await read(`/keys/${created.id}`, { method: "DELETE" });
    await read(`/keys/${successor.id}`, { method: "DELETE" });
    await read("/keys/verify", { method: "POST", json: { key: successor.key } });
    expectNoSecrets(texts, [...oldSecrets, ...newSecrets]);
  });

  it("are never echoed by refusals", async () => {
    const created = await createKey();
    const broken = created.key.slice(0, -1) + (created.key.endsWith("A") ? "B" : "A");
    const texts = [
      await seen(await admin("/keys/verify", { method: "POST", body: `{"key": "${created.key}"`, headers: { "Content-Type": "application/json" } })),
      await seen(await admin("/keys/verify", { method: "POST", json: { key: created.key, extra: 1 } })),
      await seen(await admin("/keys", { token: created.key })),
      await seen(await admin("/keys/verify", { method: "POST", json: { key: broken } })),
    ];
    expectNoSecrets(texts, await secretsOf(created.key));
  });

  it("never reach the audit log, and D1 holds only the hash", async () => {
    const created = await createKey();
    const successor = await body<Created>(
      await admin(`/keys/${created.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 60 } }),
      201,
    );
    await admin(`/keys/${successor.id}`, { method: "PATCH", json: { name: "x" } });
    await admin(`/keys/${successor.id}`, { method: "DELETE" });
    const audit = await env.DB.prepare("SELECT * FROM audit_log WHERE target_id IN (?, ?)").bind(created.id, successor.id).all();
    expect(audit.results.length).toBe(5);
    const secrets = [...(await secretsOf(created.key)), ...(await secretsOf(successor.key))];
    expectNoSecrets([JSON.stringify(audit.results)], secrets);
    const rows = await env.DB.prepare("SELECT * FROM keys WHERE id IN (?, ?)").bind(created.id, successor.id).all();
    expect(rows.results.map((r) => r.hash).sort()).toEqual([secrets[1], secrets[3]].sort());
    expectNoSecrets([JSON.stringify(rows.results)], [created.key, successor.key]);
  });
});
