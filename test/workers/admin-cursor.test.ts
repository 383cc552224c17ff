import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { ALPHABET } from "../../src/keys/format";
import { admin, createKey, uniqueOwner } from "./helpers";
import { body, expectInvalid, type Page } from "./admin-helpers";

const B64URL = `${ALPHABET}-_`;

async function firstPage(ownerId: string) {
  for (let i = 0; i < 3; i++) await createKey({ ownerId });
  return body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}&limit=1`), 200);
}

const listAfter = (ownerId: string, cursor: string) =>
  admin(`/keys?${new URLSearchParams({ ownerId, limit: "1", cursor })}`);

describe("list cursors", () => {
  it("are honoured unchanged", async () => {
    const ownerId = uniqueOwner();
    const page = await firstPage(ownerId);
    const next = await body<Page<KeyRecord>>(await listAfter(ownerId, page.nextCursor!), 200);
    expect(next.data.length).toBe(1);
    expect(next.data[0].id < page.data[0].id).toBe(true);
  });

  it("are refused after any single-character change", async () => {
    const ownerId = uniqueOwner();
    const cursor = (await firstPage(ownerId)).nextCursor!;
    for (let i = 0; i < cursor.length; i++) {
      if (cursor[i] === ".") continue;
      const other = B64URL[(B64URL.indexOf(cursor[i]) + 1) % B64URL.length];
      const edited = cursor.slice(0, i) + other + cursor.slice(i + 1);
      const p = await expectInvalid(await listAfter(ownerId, edited), "cursor");
      expect(p.detail).toContain("nextCursor");
    }
  });

  it("are refused when forged, truncated, extended or oversized", async () => {
    const ownerId = uniqueOwner();
    const cursor = (await firstPage(ownerId)).nextCursor!;
    const [payload, mac] = cursor.split(".");
    const forged = btoa("keys:key_ZZZZZZZZZZZZZZZZZZZZZZZZZZ").replace(/=+$/, "");
    for (const bad of [`${forged}.${mac}`, payload, `${cursor}.x`, `${cursor}A`, "%%%", "c".repeat(600)]) {
      await expectInvalid(await listAfter(ownerId, bad), "cursor");
    }
  });

  it("of the key list are refused by the audit list, and the other way round", async () => {
    const ownerId = uniqueOwner();
    const keysCursor = (await firstPage(ownerId)).nextCursor!;
    await expectInvalid(await admin(`/audit?cursor=${encodeURIComponent(keysCursor)}`), "cursor");
    const audit = await body<Page<unknown>>(await admin("/audit?limit=1"), 200);
    await expectInvalid(await listAfter(ownerId, audit.nextCursor!), "cursor");
  });
});
