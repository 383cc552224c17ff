import { beforeAll, describe, expect, it } from "vitest";
import { documentFromWorker } from "../../scripts/openapi-document.ts";
import { requestBodyChecker, type OpenApiDocument } from "../support/openapi-check.ts";
import { REFUSED_CREATE_FIELDS } from "../support/refused-bodies.ts";

/**
 * What keygate refuses, the admin API's document refuses too, so a client generated from it
 * learns before sending: each body of the refused corpus fails the document's schema (ajv,
 * JSON Schema 2020-12). A rule JSON Schema cannot state (a time in the future, a size in
 * bytes, names unique within a list) is listed here with the words the document says it in;
 * the schema must then let the body through, so a rule that becomes statable moves out of the list.
 */

type Where = (string | number)[];
/** Rules stated in words only: the corpus entry, where the description is, what it says. */
const IN_WORDS: Record<string, [Where, RegExp]> = {
  "name with a lone surrogate": [[], /well-formed Unicode \(no lone surrogate\)/],
  "metadata over 4 KiB": [["properties", "metadata"], /At most 4096 bytes as compact JSON/],
  "metadata with a lone surrogate deep down": [[], /at any depth, is well-formed Unicode/],
  "allowedIps IPv4-mapped range under /96": [["properties", "allowedIps", "items"], /IPv4-mapped range .* needs at least \/96/],
  "ratelimit names repeat": [["properties", "ratelimits"], /each with a name no other limit of the key has/],
  "expiresAt in the past": [["properties", "expiresAt"], /in the future \(400 otherwise\)/],
};

/** Bodies only raw JSON can carry: an object literal would take `__proto__` as its prototype. */
const RAW: [name: string, json: string, inWords?: [Where, RegExp]][] = [
  ["__proto__ in metadata", `{"name":"n","ownerId":"acct_1","metadata":{"__proto__":{"admin":true}}}`],
  ["__proto__ deep in metadata", `{"name":"n","ownerId":"acct_1","metadata":{"a":{"__proto__":{}}}}`, [["properties", "metadata"], /no `__proto__` key at any depth/]],
];

/** Fields a PATCH body cannot hold at all, or whose refusal there the corpus does not claim. */
const CREATE_ONLY = /ownerId|environment|prefix|expiresIn|smuggled|huge/;

let doc: OpenApiDocument;
let check: ReturnType<typeof requestBodyChecker>;

beforeAll(async () => {
  doc = (await documentFromWorker()) as unknown as OpenApiDocument;
  check = requestBodyChecker(doc);
});

function bodySchema(operationId: string): Record<string, unknown> {
  const operation = Object.values(doc.paths)
    .flatMap((item) => Object.values(item))
    .find((op) => op.operationId === operationId) as { requestBody: { content: Record<string, { schema: Record<string, unknown> }> } };
  return operation.requestBody.content["application/json"].schema;
}

function descriptionAt(operationId: string, where: Where): string {
  let node: unknown = bodySchema(operationId);
  for (const step of where) node = (node as Record<string | number, unknown>)[step];
  return String((node as { description?: string }).description ?? "");
}

function expectRefusedOrSaid(operationId: string, name: string, body: unknown, inWords?: [Where, RegExp]) {
  const errors = check(operationId, body);
  if (!inWords) {
    expect(errors, `${operationId}: the document lets "${name}" through`).not.toEqual([]);
    return;
  }
  expect(errors, `${operationId}: "${name}" is refused by the schema now; take it out of IN_WORDS`).toEqual([]);
  expect(descriptionAt(operationId, inWords[0]), `${operationId}: "${name}" is said in words`).toMatch(inWords[1]);
}

describe("the admin API's document refuses what keygate refuses", () => {
  it("create: every body of the refused corpus", () => {
    expect(check("createKey", { name: "n", ownerId: "acct_1" })).toEqual([]);
    for (const [name, fields] of REFUSED_CREATE_FIELDS) {
      expectRefusedOrSaid("createKey", name, { name: "n", ownerId: "acct_1", ...fields }, IN_WORDS[name]);
    }
    for (const [name, json, inWords] of RAW) expectRefusedOrSaid("createKey", name, JSON.parse(json), inWords);
  });

  it("PATCH: every body of the refused corpus a PATCH can carry", () => {
    expect(check("updateKey", { name: "n" })).toEqual([]);
    for (const [name, fields] of REFUSED_CREATE_FIELDS.filter(([name]) => !CREATE_ONLY.test(name))) {
      expectRefusedOrSaid("updateKey", name, fields, IN_WORDS[name]);
    }
    for (const [name, json, inWords] of RAW) {
      const { name: _name, ownerId: _ownerId, ...fields } = JSON.parse(json) as Record<string, unknown>;
      expectRefusedOrSaid("updateKey", name, fields, inWords && [inWords[0], inWords[1]]);
    }
  });

  it("still takes what keygate takes", () => {
    const ok = [
      { prefix: "acme_test", environment: "test" },
      { prefix: "acme_live" },
      { prefix: "acme_live", environment: "live" },
      { prefix: "acme_sk", environment: "test" },
      { expiresAt: null, expiresIn: 60 },
      { credits: { remaining: 1, refill: { amount: 1, interval: "monthly", day: 31 } } },
      { credits: { remaining: 1, refill: { amount: 1, interval: "daily" } } },
      { credits: { remaining: 1, refill: null } },
      { allowedIps: ["10.0.0.0/8", "::ffff:10.0.0.0/104", "2001:db8::/32", "::1", "1:2:3:4:5:6:1.2.3.4"] },
      { metadata: { constructor: 1, nested: { list: [1, "😀"] } }, name: "Ключ 🔑" },
    ];
    for (const fields of ok) expect(check("createKey", { name: "n", ownerId: "acct_1", ...fields }), JSON.stringify(fields)).toEqual([]);
    expect(check("updateKey", { credits: { remaining: 7 } })).toEqual([]);
  });

  it("says in words what the usage queries refuse: from after to, more than 90 days", () => {
    for (const path of ["/keys/{id}/usage", "/usage"]) {
      const parameters = (doc.paths[path].get as unknown as { parameters: { name: string; description?: string }[] }).parameters;
      for (const name of ["from", "to"]) {
        const description = parameters.find((p) => p.name === name)?.description ?? "";
        expect(description, `${path} ${name}`).toMatch(/`from` must be earlier than `to`/);
        expect(description, `${path} ${name}`).toMatch(/at most 90 days apart/);
      }
    }
  });
});
