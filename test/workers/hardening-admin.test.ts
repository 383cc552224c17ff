import { beforeAll, describe, expect, it } from "vitest";
import { admin, ADMIN_TOKEN, createKey, uniqueOwner, type Created } from "./helpers";
import { probe, snapshot, type Case } from "./hardening-support";
import { REFUSED_CREATE_FIELDS as wrongTypes } from "../support/refused-bodies";

/**
 * Hostile admin requests: wrong JSON types, malformed and oversized bodies, control
 * characters, SQL-looking strings in every filter. Each answers a 4xx problem (or, for a
 * filter that is merely odd, an empty page) and changes nothing.
 */

const OWNER = uniqueOwner("corpus");
let target: Created;
let before: string;

beforeAll(async () => {
  target = await createKey({ ownerId: OWNER, ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }] });
  before = await snapshot([target]);
});

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const json = (method: string, body: string): RequestInit => ({
  method,
  body,
  headers: { ...auth, "Content-Type": "application/json" },
});
const create = (fields: Record<string, unknown>) => json("POST", JSON.stringify({ name: "corpus", ownerId: OWNER, ...fields }));
const MiB = "x".repeat(1024 * 1024);
const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);


const SQL = "' OR '1'='1' --";
const q = encodeURIComponent;

function cases(): Case[] {
  const id = target.id;
  return [
    ...wrongTypes.map(([name, fields]): Case => ({ name: `create: ${name}`, path: "/admin/keys", init: create(fields), codes: ["VALIDATION_FAILED"] })),
    ...wrongTypes
      .filter(([name]) => !/ownerId|environment|prefix|expiresIn|smuggled|huge/.test(name))
      .map(([name, fields]): Case => ({ name: `patch: ${name}`, path: `/admin/keys/${id}`, init: json("PATCH", JSON.stringify(fields)), codes: ["VALIDATION_FAILED"] })),
    { name: "patch ownerId", path: `/admin/keys/${id}`, init: json("PATCH", JSON.stringify({ ownerId: "someone-else" })), codes: ["VALIDATION_FAILED"] },
    { name: "patch revokedAt", path: `/admin/keys/${id}`, init: json("PATCH", JSON.stringify({ revokedAt: null })), codes: ["VALIDATION_FAILED"] },
    ...["{", "[]", "null", '"text"', "{'name':'x'}", '{"name":}', '{"name":"x",}', "\u0000", "", "{}{}"].map(
      (body): Case => ({ name: `malformed JSON ${JSON.stringify(body)}`, path: "/admin/keys", init: json("POST", body), codes: ["VALIDATION_FAILED"] }),
    ),
    { name: "deeply nested metadata", path: "/admin/keys", init: json("POST", `{"name":"n","ownerId":"${OWNER}","metadata":{"a":${deep(20_000)}}}`), codes: ["VALIDATION_FAILED", "PAYLOAD_TOO_LARGE"] },
    { name: "1 MiB create", path: "/admin/keys", init: create({ metadata: { blob: MiB } }), codes: ["PAYLOAD_TOO_LARGE"] },
    { name: "1 MiB patch", path: `/admin/keys/${id}`, init: json("PATCH", JSON.stringify({ name: MiB })), codes: ["PAYLOAD_TOO_LARGE"] },
    { name: "1 MiB rotate", path: `/admin/keys/${id}/rotate`, init: json("POST", JSON.stringify({ pad: MiB })), codes: ["PAYLOAD_TOO_LARGE"] },
    { name: "1 MiB verify", path: "/admin/keys/verify", init: json("POST", JSON.stringify({ key: MiB })), codes: ["PAYLOAD_TOO_LARGE"] },
    { name: "rotate grace negative", path: `/admin/keys/${id}/rotate`, init: json("POST", '{"gracePeriodSeconds":-1}'), codes: ["VALIDATION_FAILED"] },
    { name: "rotate grace over 30 days", path: `/admin/keys/${id}/rotate`, init: json("POST", '{"gracePeriodSeconds":2592001}'), codes: ["VALIDATION_FAILED"] },
    { name: "rotate grace as string", path: `/admin/keys/${id}/rotate`, init: json("POST", '{"gracePeriodSeconds":"60"}'), codes: ["VALIDATION_FAILED"] },
    { name: "verify key as number", path: "/admin/keys/verify", init: json("POST", '{"key":42}'), codes: ["VALIDATION_FAILED"] },
    { name: "create as text/plain", path: "/admin/keys", init: { method: "POST", body: JSON.stringify({ name: "n", ownerId: OWNER }), headers: { ...auth, "Content-Type": "text/plain" } }, codes: ["VALIDATION_FAILED", "UNSUPPORTED_MEDIA_TYPE"] },
    { name: "create as form", path: "/admin/keys", init: { method: "POST", body: `name=n&ownerId=${OWNER}`, headers: { ...auth, "Content-Type": "application/x-www-form-urlencoded" } }, codes: ["VALIDATION_FAILED", "UNSUPPORTED_MEDIA_TYPE"] },
    { name: "get SQL id", path: `/admin/keys/${q(`key_${SQL}`)}`, init: { headers: auth }, codes: ["NOT_FOUND"] },
    { name: "patch SQL id", path: `/admin/keys/${q(SQL)}`, init: json("PATCH", '{"name":"x"}'), codes: ["NOT_FOUND"] },
    { name: "delete SQL id", path: `/admin/keys/${q(`${id}' OR 1=1 --`)}`, init: { method: "DELETE", headers: auth }, codes: ["NOT_FOUND"] },
    { name: "rotate unknown id", path: "/admin/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/rotate", init: json("POST", "{}"), codes: ["NOT_FOUND"] },
    { name: "list environment SQL", path: `/admin/keys?environment=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "list status SQL", path: `/admin/keys?status=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "list limit SQL", path: `/admin/keys?limit=${q("1; DROP TABLE keys")}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "list limit 0", path: "/admin/keys?limit=0", init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "list limit 101", path: "/admin/keys?limit=101", init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "list cursor SQL", path: `/admin/keys?cursor=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "list cursor forged", path: `/admin/keys?cursor=${btoa(`keys:${id}`)}.AAAAAAAAAAAAAAAAAAAAAA`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "audit limit SQL", path: `/admin/audit?limit=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "audit cursor SQL", path: `/admin/audit?cursor=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "usage groupBy SQL", path: `/admin/usage?groupBy=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "usage from SQL", path: `/admin/usage?from=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "key usage granularity SQL", path: `/admin/keys/${id}/usage?granularity=${q(SQL)}`, init: { headers: auth }, codes: ["VALIDATION_FAILED"] },
    { name: "wrong admin token", path: "/admin/keys", init: { headers: { Authorization: "Bearer wrong" } }, codes: ["UNAUTHORIZED"] },
    { name: "SQL as admin token", path: "/admin/keys", init: { headers: { Authorization: `Bearer ${SQL}` } }, codes: ["UNAUTHORIZED"] },
    { name: "admin token with NUL", path: `/admin/keys?x=${q("\u0000")}`, init: { headers: { Authorization: `Bearer ${ADMIN_TOKEN}x` } }, codes: ["UNAUTHORIZED"] },
    { name: "10 KB admin token", path: "/admin/keys", init: { headers: { Authorization: `Bearer ${"t".repeat(10_240)}` } }, codes: ["UNAUTHORIZED"] },
    { name: "unknown admin route", path: "/admin/secrets", init: { headers: auth }, codes: ["NOT_FOUND"] },
    { name: "PUT on keys", path: "/admin/keys", init: json("PUT", "{}"), codes: ["NOT_FOUND", "METHOD_NOT_ALLOWED"] },
  ];
}

/** Filters that are valid strings with SQL in them: an empty page, never an error or a match. */
const oddFilters = [
  `/admin/keys?ownerId=${q(SQL)}`,
  `/admin/keys?ownerId=${q(`${OWNER}' OR 1=1 --`)}`,
  `/admin/audit?targetId=${q(`${SQL}`)}`,
  `/admin/audit?actor=${q("root' OR '1'='1")}`,
  `/admin/audit?action=${q("key.create' --")}`,
];

describe("hostile admin requests", () => {
  it("each answers a 4xx problem naming what to fix, and nothing changes", async () => {
    const all = cases();
    for (const c of all) await probe(c, `admin:${c.name}`);
    expect(all.length).toBeGreaterThan(100);
    expect(await snapshot([target])).toBe(before);
    const mine = (await (await admin(`/keys?ownerId=${OWNER}`)).json()) as { data: unknown[] };
    expect(mine.data).toHaveLength(1);
  });

  it.each(oddFilters)("%s is an empty page", async (path) => {
    const res = await admin(path.replace("/admin", ""));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toEqual([]);
  });
});
