import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, BASE, problem } from "./helpers";

async function fetchWith(overrides: Record<string, unknown>, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`${BASE}${path}`, init) as Request<unknown, IncomingRequestCfProperties>;
  const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const asAdmin = { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } };

describe("configuration", () => {
  it.each([
    ["ROUTES", "not json", /ROUTES/],
    ["ROUTES", JSON.stringify([{ name: "x", prefix: "/x", upstream: "ftp://origin" }]), /ROUTES\.0\.upstream/],
    ["ROUTES", JSON.stringify([{ name: "x", prefix: "x", upstream: "http://o" }]), /ROUTES\.0\.prefix/],
    ["ROUTES", JSON.stringify([{ name: "x", prefix: "/x", upstream: "http://o", colour: 1 }]), /ROUTES\.0/],
    ["ROUTES", JSON.stringify([{ name: "x", prefix: "/x", upstream: "http://o", timeoutMs: -1 }]), /ROUTES\.0\.timeoutMs/],
    ["UPSTREAM_URL", "nowhere", /UPSTREAM_URL/],
    ["MAX_KEYS_PER_OWNER", "0", /MAX_KEYS_PER_OWNER/],
    ["ADMIN_PATH", "admin", /ADMIN_PATH/],
    ["ADMIN_TOKEN", undefined, /ADMIN_TOKEN/],
    ["ASSERTION_PRIVATE_KEY", "{}", /ASSERTION_PRIVATE_KEY/],
    ["ASSERTION_PRIVATE_KEY", undefined, /ASSERTION_PRIVATE_KEY/],
    ["PUBLIC_URL", "gateway.example.com", /PUBLIC_URL/],
    ["PUBLIC_URL", "ftp://gateway.example.com", /PUBLIC_URL/],
    ["PUBLIC_URL", "https://gateway.example.com/v1", /PUBLIC_URL/],
    ["PUBLIC_URL", "https://gateway.example.com?x=1", /PUBLIC_URL/],
    ["PUBLIC_URL", "https://gateway.example.com#top", /PUBLIC_URL/],
    ["PUBLIC_URL", "https://user:pass@gateway.example.com", /PUBLIC_URL/],
    ["IMPORTED_KEY_PREFIXES", "sk_live_", /IMPORTED_KEY_PREFIXES: must be a JSON array of prefixes/],
    ["IMPORTED_KEY_PREFIXES", '"sk_live_"', /IMPORTED_KEY_PREFIXES/],
    ["IMPORTED_KEY_PREFIXES", '["sk live"]', /IMPORTED_KEY_PREFIXES\.0: must be 2-32 printable ASCII/],
    ["IMPORTED_KEY_PREFIXES", '["s"]', /IMPORTED_KEY_PREFIXES\.0/],
    ["IMPORTED_KEY_PREFIXES", '["kg_"]', /IMPORTED_KEY_PREFIXES\.0: must not cover keygate's own prefixes/],
    ["IMPORTED_KEY_PREFIXES", '["kg_live_x"]', /IMPORTED_KEY_PREFIXES\.0: must not cover keygate's own prefixes/],
    ["IMPORTED_KEY_PREFIXES", '["bs_","bs_"]', /IMPORTED_KEY_PREFIXES: must not list a prefix twice/],
  ])("a bad %s answers 500 CONFIG_INVALID naming it", async (name, value, names) => {
    const res = await fetchWith({ [name]: value }, "/echo", { headers: { "X-API-Key": "anything" } });
    expect(res.status).toBe(500);
    const body = await problem(res);
    expect(body.code).toBe("CONFIG_INVALID");
    expect(body.detail).toMatch(names);
    expect(body.detail).not.toContain(String(env.ADMIN_TOKEN));
  });

  it("takes ROUTES as a JSON string or as an array, and with none routes everything to UPSTREAM_URL", async () => {
    const routes = [{ name: "only", prefix: "/only", upstream: "http://127.0.0.1:9" }];
    for (const value of [routes, JSON.stringify(routes)]) {
      const res = await fetchWith({ ROUTES: value }, "/elsewhere", { headers: { "X-API-Key": "kg_live_x" } });
      expect((await problem(res)).code).toBe("MALFORMED_KEY");
    }
    const defaults = await fetchWith({ ROUTES: undefined }, "/anything");
    expect((await problem(defaults)).code).toBe("MISSING_KEY");
  });

  it("serves the admin API under a custom ADMIN_PATH, and /admin becomes a consumer path", async () => {
    const moved = await fetchWith({ ADMIN_PATH: "/ops" }, "/ops/keys?limit=1", asAdmin);
    expect(moved.status).toBe(200);
    const old = await fetchWith({ ADMIN_PATH: "/ops" }, "/admin/keys", asAdmin);
    expect((await problem(old)).code).toBe("MALFORMED_KEY");
    const spec = await fetchWith({ ADMIN_PATH: "/ops" }, "/ops/openapi.json");
    expect(((await spec.json()) as { servers: { url: string }[] }).servers[0].url).toBe("/ops");
  });

  it("answers usage from D1 without a Cloudflare account, and from the SQL API once both settings are there", async () => {
    const source = async (vars: Partial<Env>) => {
      const res = await fetchWith(vars, "/admin/usage", asAdmin);
      expect(res.status).toBe(200);
      return ((await res.json()) as { source: string }).source;
    };
    expect(await source({ USAGE_SQL_URL: undefined, CF_ACCOUNT_ID: undefined, CF_API_TOKEN: undefined })).toBe("d1");
    // an account without a token (or a token without an account) is not enough for the SQL API
    expect(await source({ CF_ACCOUNT_ID: "0123456789abcdef0123456789abcdef", CF_API_TOKEN: undefined })).toBe("d1");
    // (the echo origin answers 200 with no rows; admin-usage.test.ts checks the SQL itself)
    expect(await source({ USAGE_SQL_URL: `${env.UPSTREAM_URL}/sql`, CF_API_TOKEN: "t" })).toBe("analytics-engine");
  });
});
