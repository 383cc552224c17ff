import { describe, expect, it } from "vitest";
import { admin, send } from "./helpers";
import { body, RECORD_FIELDS } from "./admin-helpers";

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> }>;
}
interface OpenApiDoc {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
}
interface Schema {
  $ref?: string;
  properties?: Record<string, unknown>;
  allOf?: Schema[];
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
