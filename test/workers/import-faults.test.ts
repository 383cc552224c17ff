import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { uniqueOwner } from "./helpers";
import { d1FailingWrites } from "./gateway-helpers";
import { foreignKey, importGateway, imported, rows } from "./import-helpers";
import { IMPORT_BATCH_BYTES } from "../../src/lifecycle/import";

/**
 * An import writes its keys in D1 batches: a batch that fails writes nothing of itself, and the
 * answer says which items landed, also when D1's answer to a batch that did land was lost.
 */

const items = (ownerId: string, n: number, metadata: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ name: `k${i}`, ownerId, key: foreignKey(), metadata }));

/** The real D1, except that its `nth` batch that writes fails before it runs. */
function d1FailingBatch(nth: number): D1Database {
  const real = env.DB;
  let writes = 0;
  const sqlOf = new WeakMap<object, string>();
  return new Proxy(real, {
    get: (target, property) => {
      if (property === "prepare") {
        return (text: string) => {
          const statement = target.prepare(text);
          sqlOf.set(statement, text);
          const bind = statement.bind.bind(statement);
          statement.bind = (...values: unknown[]) => {
            const bound = bind(...values);
            sqlOf.set(bound, text);
            return bound;
          };
          return statement;
        };
      }
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          if (statements.some((s) => /^\s*insert into "keys"/i.test(sqlOf.get(s) ?? "")) && ++writes === nth) {
            throw new Error("D1_ERROR: the batch could not be written");
          }
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("an import when D1 fails", () => {
  it("a batch D1 refuses writes nothing of itself: every item of it is invalid with GATEWAY_UNAVAILABLE", async () => {
    const ownerId = uniqueOwner("fail");
    const failing = importGateway({ DB: d1FailingWrites("fail"), CHANGE_TIMEOUT_MS: "1000" });
    const results = await imported(failing, { keys: items(ownerId, 5) });
    expect(results.map((r) => r.status)).toEqual(Array(5).fill("invalid"));
    for (const r of results) {
      expect(r.problem).toMatchObject({ code: "GATEWAY_UNAVAILABLE", title: "Gateway unavailable" });
      expect(r.problem!.detail).toMatch(/nothing of that batch was written: import it again/);
    }
    expect(await rows("keys", "owner_id = ?", ownerId)).toBe(0);
    expect(await rows("owners", "id = ?", ownerId)).toBe(0);
    expect(await rows("audit_log", "action = 'key.import' AND changes LIKE ?", `%${ownerId}%`)).toBe(0);
  });

  it("a batch whose answer was lost, though it landed, is reported created", async () => {
    const ownerId = uniqueOwner("lost");
    const lossy = importGateway({ DB: d1FailingWrites("lose-answer"), CHANGE_TIMEOUT_MS: "1000" });
    const results = await imported(lossy, { keys: items(ownerId, 3) });
    expect(results.map((r) => r.status)).toEqual(["created", "created", "created"]);
    expect(await rows("keys", "owner_id = ? AND imported = 1", ownerId)).toBe(3);
    expect(await rows("audit_log", "action = 'key.import' AND target_id IN (SELECT id FROM keys WHERE owner_id = ?)", ownerId)).toBe(3);
  });

  it("a batch that reaches D1 after its time writes nothing, then or later", async () => {
    const ownerId = uniqueOwner("late");
    const db = d1FailingWrites({ lateByMs: 1500 });
    const late = importGateway({ DB: db, CHANGE_TIMEOUT_MS: "1000" });
    const results = await imported(late, { keys: items(ownerId, 2) });
    expect(results.map((r) => r.problem?.code)).toEqual(["GATEWAY_UNAVAILABLE", "GATEWAY_UNAVAILABLE"]);
    await (db as unknown as { landed(): Promise<unknown> }).landed();
    expect(await rows("keys", "owner_id = ?", ownerId)).toBe(0);
  });

  it("when one batch of several fails, the others land: the answer says which, and importing again completes it", async () => {
    const ownerId = uniqueOwner("partial");
    const metadata = { pad: "p".repeat(3000) };
    const keys = items(ownerId, 150, metadata);
    expect(JSON.stringify(keys).length).toBeGreaterThan(IMPORT_BATCH_BYTES);
    const partial = importGateway({ DB: d1FailingBatch(2), CHANGE_TIMEOUT_MS: "1000", MAX_KEYS_PER_OWNER: "1000" });
    const results = await imported(partial, { keys });
    const created = results.filter((r) => r.status === "created");
    const failed = results.filter((r) => r.status === "invalid");
    expect(created.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(created.length + failed.length).toBe(150);
    // batches are runs of items in order: the first landed, the second did not, any later one did
    expect(results.map((r) => r.status[0]).join("")).toMatch(/^c+i+c*$/);
    expect(failed.every((r) => r.problem?.code === "GATEWAY_UNAVAILABLE")).toBe(true);
    expect(await rows("keys", "owner_id = ?", ownerId)).toBe(created.length);

    const again = await imported(importGateway({ MAX_KEYS_PER_OWNER: "1000" }), { keys });
    again.forEach((r, i) => expect([r.status, r.id]).toEqual(results[i].status === "created" ? ["exists", results[i].id] : ["created", expect.any(String)]));
    expect(await rows("keys", "owner_id = ?", ownerId)).toBe(150);
  });
});
