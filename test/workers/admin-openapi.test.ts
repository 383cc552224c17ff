import { describe, expect, it } from "vitest";
import { admin, send } from "./helpers";
import { body, RECORD_FIELDS } from "./admin-helpers";

interface Operation {
  operationId?: string;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, { $ref?: string }> }>;
}
interface OpenApiDoc {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown>; headers: Record<string, unknown> };
}
interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  allOf?: Schema[];
  items?: Schema;
  default?: unknown;
}

/** The property names a schema describes, following $ref and allOf. */
function propertiesOf(doc: OpenApiDoc, schema: Schema): string[] {
  if (schema.$ref) return propertiesOf(doc, doc.components.schemas[schema.$ref.split("/").at(-1)!]);
  return [...Object.keys(schema.properties ?? {}), ...(schema.allOf ?? []).flatMap((part) => propertiesOf(doc, part))];
}

/** DESIGN.md's admin route table; `core` routes must exist, the others must be documented once they do. */
const CONTRACT_ROUTES: { method: string; path: string; probe: string; core: boolean }[] = [
  { method: "post", path: "/admin/keys", probe: "/keys", core: true },
  { method: "get", path: "/admin/keys", probe: "/keys", core: true },
  { method: "get", path: "/admin/keys/{id}", probe: "/keys/key_00000000000000000000000000", core: true },
  { method: "patch", path: "/admin/keys/{id}", probe: "/keys/key_00000000000000000000000000", core: true },
  { method: "delete", path: "/admin/keys/{id}", probe: "/keys/key_00000000000000000000000000", core: true },
  { method: "post", path: "/admin/keys/{id}/rotate", probe: "/keys/key_00000000000000000000000000/rotate", core: true },
  { method: "post", path: "/admin/keys/verify", probe: "/keys/verify", core: true },
  { method: "get", path: "/admin/keys/{id}/usage", probe: "/keys/key_00000000000000000000000000/usage", core: true },
  { method: "get", path: "/admin/usage", probe: "/usage", core: true },
  { method: "get", path: "/admin/keys/{id}/requests", probe: "/keys/key_00000000000000000000000000/requests", core: true },
  { method: "get", path: "/admin/metrics", probe: "/metrics", core: true },
  { method: "get", path: "/admin/audit", probe: "/audit", core: true },
  { method: "get", path: "/admin/security-events", probe: "/security-events", core: true },
  { method: "post", path: "/admin/webhooks", probe: "/webhooks", core: true },
  { method: "get", path: "/admin/webhooks", probe: "/webhooks", core: true },
  { method: "get", path: "/admin/webhooks/{id}", probe: "/webhooks/whk_00000000000000000000000000", core: true },
  { method: "patch", path: "/admin/webhooks/{id}", probe: "/webhooks/whk_00000000000000000000000000", core: true },
  { method: "delete", path: "/admin/webhooks/{id}", probe: "/webhooks/whk_00000000000000000000000000", core: true },
  { method: "post", path: "/admin/webhooks/{id}/rotate-secret", probe: "/webhooks/whk_00000000000000000000000000/rotate-secret", core: true },
  { method: "post", path: "/admin/webhooks/{id}/test", probe: "/webhooks/whk_00000000000000000000000000/test", core: true },
  { method: "get", path: "/admin/webhooks/{id}/deliveries", probe: "/webhooks/whk_00000000000000000000000000/deliveries", core: true },
];

/** True when the worker serves this method and path (anything but "no admin route matches"). */
async function served(method: string, probe: string): Promise<boolean> {
  const res = await admin(probe, { method: method.toUpperCase() });
  if (res.status !== 404) return true;
  const p = (await res.json()) as { detail: string };
  return !p.detail.startsWith("No admin route");
}

describe("GET /admin/openapi.json", () => {
  it("is an OpenAPI 3.1 document listing every admin route the worker serves", async () => {
    const doc = await body<OpenApiDoc>(await send("/admin/openapi.json"), 200);
    expect(doc.openapi).toMatch(/^3\.1\./);
    const base = doc.servers[0].url;
    expect(base).toBe("/admin");
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${base}${path}`)),
    );
    for (const route of CONTRACT_ROUTES) {
      const exists = await served(route.method, route.probe);
      if (route.core) expect(exists, `${route.method} ${route.path} is served`).toBe(true);
      if (exists) expect(documented, `${route.method} ${route.path} is documented`).toContain(`${route.method} ${route.path}`);
    }
  });

  it("documents the key record with exactly the contract's fields, and problem+json errors", async () => {
    const doc = await body<OpenApiDoc>(await send("/admin/openapi.json"), 200);
    expect(propertiesOf(doc, doc.components.schemas.KeyRecord).sort()).toEqual([...RECORD_FIELDS].sort());
    expect(propertiesOf(doc, doc.components.schemas.CreatedKey).sort()).toEqual([...RECORD_FIELDS, "key"].sort());
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const errors = Object.entries(op.responses).filter(([status]) => status.startsWith("4"));
        expect(errors.length, `${method} ${path} documents its errors`).toBeGreaterThan(0);
        for (const [, response] of errors) expect(Object.keys(response.content ?? {})).toEqual(["application/problem+json"]);
      }
    }
  });
});

describe("the document, read as client generators and validators read it", () => {
  const operations = (doc: OpenApiDoc) =>
    Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ name: `${method} ${path}`, method, op })));

  it("names every operation once, and every answer carries X-Request-Id", async () => {
    const doc = await body<OpenApiDoc>(await send("/admin/openapi.json"), 200);
    const ids = operations(doc).map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z]+$/.test(id)), JSON.stringify(ids)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.components.headers["X-Request-Id"]).toMatchObject({ required: true });
    for (const { name, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.headers?.["X-Request-Id"], `${name} ${status}`).toEqual({ $ref: "#/components/headers/X-Request-Id" });
      }
    }
  });

  it("declares validation, auth and storage problems everywhere, and 413/415 where a body is read", async () => {
    const doc = await body<OpenApiDoc>(await send("/admin/openapi.json"), 200);
    for (const { name, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      expect(statuses, name).toEqual(expect.arrayContaining(["400", "401", "403", "503"]));
      if (op.requestBody) expect(statuses, name).toEqual(expect.arrayContaining(["413", "415"]));
    }
  });

  it("keeps request bodies inline, so fields with defaults stay optional to generators", async () => {
    const doc = await body<OpenApiDoc>(await send("/admin/openapi.json"), 200);
    const create = doc.paths["/keys"].post.requestBody!.content["application/json"].schema;
    expect(create.$ref).toBeUndefined();
    expect(create.required?.sort()).toEqual(["name", "ownerId"]);
    expect(create.properties?.environment.default).toBe("live");
    const rotate = doc.paths["/keys/{id}/rotate"].post.requestBody!.content["application/json"].schema;
    expect(rotate.required ?? []).toEqual([]);
    // a shared component with a default would be read as "always present"
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const [field, property] of Object.entries(schema.properties ?? {})) {
        expect(property.default, `${name}.${field} has no default`).toBeUndefined();
      }
    }
  });

  it("types PATCH expiresAt as a date-time or null, and verify's limits as one object each", async () => {
    const doc = await body<OpenApiDoc>(await send("/admin/openapi.json"), 200);
    const patch = doc.paths["/keys/{id}"].patch.requestBody!.content["application/json"].schema;
    expect(patch.properties?.expiresAt.type).toEqual(["string", "null"]);
    const limits = doc.components.schemas.VerifyResult.properties!.ratelimits;
    expect(limits.items).toEqual({ $ref: "#/components/schemas/RateLimitState" });
    expect(doc.components.schemas.RateLimitState.allOf).toBeUndefined();
    expect(Object.keys(doc.components.schemas.RateLimitState.properties!).sort()).toEqual(
      ["limit", "name", "remaining", "reset", "windowSeconds"],
    );
  });
});

describe("GET /admin/docs", () => {
  it("answers an HTML reference page that loads the document", async () => {
    const res = await send("/admin/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain("/admin/openapi.json");
  });
});
