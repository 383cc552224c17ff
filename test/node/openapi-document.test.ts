import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { OpenAPI3 } from "openapi-typescript";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type { CreateKeyInput, KeyRecord, RotateKeyInput, UpdateKeyInput, VerifyResult } from "../../client/index.ts";
import { ADMIN_DOCUMENT, documentsFromWorker, PORTAL_DOCUMENT, PORTAL_TYPES_PATH, TYPES_PATH, typesFor } from "../../scripts/openapi-document.ts";

/**
 * The admin API's and the portal API's documents as the worker serves them: the checked-in client
 * types still match them (so the CLI, the dashboard and the portal's pages cannot drift from the
 * APIs), and Redocly's linter finds no error in either.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "keygate-openapi-"));
let doc: OpenAPI3;
let portalDoc: OpenAPI3;

beforeAll(async () => {
  [doc, portalDoc] = await documentsFromWorker([ADMIN_DOCUMENT, PORTAL_DOCUMENT]);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("client/openapi.d.ts", () => {
  it("is what `npm run client:generate` makes from the worker's document today", async () => {
    const checkedIn = readFileSync(TYPES_PATH, "utf8");
    const current = await typesFor(doc);
    expect(checkedIn === current, "client/openapi.d.ts is out of date: run `npm run client:generate` and commit it").toBe(true);
  });

  it("types what the API takes and answers as it really does", () => {
    // fields with defaults may be left out
    expectTypeOf<{ name: string; ownerId: string }>().toExtend<CreateKeyInput>();
    expectTypeOf<{ name: string; ownerId: string; credits: { remaining: number } }>().toExtend<CreateKeyInput>();
    expectTypeOf<Record<string, never>>().toExtend<RotateKeyInput>();
    // null removes an expiry
    expectTypeOf<{ expiresAt: null }>().toExtend<UpdateKeyInput>();
    expectTypeOf<{ expiresAt: "2030-01-01T00:00:00Z" }>().toExtend<UpdateKeyInput>();
    // a verdict's limits are one object each, with the window's state
    expectTypeOf<NonNullable<VerifyResult["ratelimits"]>[number]>().toEqualTypeOf<{
      name: string;
      limit: number;
      windowSeconds: number;
      remaining: number;
      reset: number;
    }>();
    // an answer's credits always say whether they refill
    expectTypeOf<NonNullable<KeyRecord["credits"]>["refill"]>().not.toBeUndefined();
    expectTypeOf<{ remaining: number }>().not.toExtend<NonNullable<KeyRecord["credits"]>>();
  });
});

describe("client/portal-openapi.d.ts", () => {
  it("is what `npm run client:generate` makes from the worker's portal document today", async () => {
    const checkedIn = readFileSync(PORTAL_TYPES_PATH, "utf8");
    const current = await typesFor(portalDoc, PORTAL_DOCUMENT);
    expect(checkedIn === current, "client/portal-openapi.d.ts is out of date: run `npm run client:generate` and commit it").toBe(true);
  });
});

describe("redocly lint", () => {
  it.each([
    ["admin", () => doc],
    ["portal", () => portalDoc],
  ])("finds no error in the %s document the worker serves", async (name, document) => {
    const file = path.join(tmp, `${name}.json`);
    writeFileSync(file, JSON.stringify(document(), null, 2));
    const { stdout } = await promisify(execFile)(
      path.join(ROOT, "node_modules/.bin/redocly"),
      ["lint", "--config", path.join(ROOT, "redocly.yaml"), "--format", "json", file],
      {
        cwd: tmp,
        // no telemetry, no update check: the linter stays on this machine
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", CI: "1" },
        maxBuffer: 8 * 1024 * 1024,
      },
    );
    const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });
});
