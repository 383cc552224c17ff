import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, admin, call, createKey, send } from "./helpers";
import { echoed, expectProblem, gatewayWith, getRecord, throwing } from "./gateway-helpers";
import { markersSeenByOrigin } from "./hardening-support";

/** Holes found by trying keygate as an attacker and as outside clients would (issue "Trust"). */

describe("what the origin never receives", () => {
  it("claims about the client's address, and the headers a Connection header names", async () => {
    const { key } = await createKey();
    const echo = await echoed(
      await call("/echo", key, {
        headers: {
          Forwarded: "for=203.0.113.66;proto=https",
          "X-Real-IP": "203.0.113.66",
          "True-Client-IP": "203.0.113.66",
          "X-Client-IP": "203.0.113.66",
          "X-Forwarded-For": "203.0.113.66",
          Connection: "X-Internal-Token, keep-alive",
          "X-Internal-Token": "let-me-in",
          "X-Kept": "yes",
          "CF-Connecting-IP": "198.51.100.9",
        },
      }),
    );
    for (const name of ["forwarded", "x-real-ip", "true-client-ip", "x-client-ip", "x-internal-token", "connection"]) {
      expect(echo.headers[name], name).toBeUndefined();
    }
    expect(echo.headers["x-forwarded-for"]).toBe("198.51.100.9");
    expect(echo.headers["x-kept"]).toBe("yes");
  });

  it("no header that reads as one keygate strips or sets once `_` is taken for `-` (CGI, WSGI, Rack merge them)", async () => {
    const created = await createKey();
    const twins = {
      X_Keygate_Owner_Id: "victim",
      X_Keygate_Key_Id: "key_forged",
      X_KEYGATE_SCOPES: "*",
      x_keygate_assertion: "forged.token.here",
      X_Forwarded_For: "203.0.113.66",
      X_Forwarded_Host: "evil.example",
      X_Forwarded_Proto: "https",
      X_Real_IP: "203.0.113.66",
      True_Client_IP: "203.0.113.66",
      X_Client_IP: "203.0.113.66",
      X_API_Key: created.key,
      X_Request_Id: "req_spoofed",
      Proxy_Authorization: "Basic c2VjcmV0",
      Keep_Alive: "timeout=5",
      Transfer_Encoding: "chunked",
      X_Internal_Token: "let-me-in",
      Connection: "X-Internal-Token",
      X_Kept_Twin: "yes",
    };
    const echo = await echoed(await call("/echo", created.key, { headers: twins }));
    for (const name of Object.keys(twins)) {
      if (name === "X_Kept_Twin") continue;
      expect(echo.headers[name.toLowerCase()], name).toBeUndefined();
    }
    expect(echo.headers["x-keygate-owner-id"]).toBe(created.ownerId);
    expect(echo.headers["x-forwarded-for"]).toBe("198.51.100.7");
    // a name keygate has no use for is kept, `_` and all
    expect(echo.headers["x_kept_twin"]).toBe("yes");
  });

  it("no method or URL override header: scopes were judged on the request line", async () => {
    const reader = await createKey({ scopes: ["posts:read"] });
    const overrides = {
      "X-HTTP-Method-Override": "DELETE",
      "X-HTTP-Method": "DELETE",
      "X-Method-Override": "DELETE",
      "X-Original-URL": "/admin/delete-everything",
      "X-Rewrite-URL": "/admin/delete-everything",
      X_HTTP_Method_Override: "DELETE",
      X_HTTP_Method: "DELETE",
      X_Method_Override: "DELETE",
      X_Original_URL: "/admin/delete-everything",
      X_Rewrite_URL: "/admin/delete-everything",
    };
    const echo = await echoed(await call("/posts/1", reader.key, { headers: overrides }));
    expect(echo.method).toBe("GET");
    for (const name of Object.keys(overrides)) expect(echo.headers[name.toLowerCase()], name).toBeUndefined();
  });
});

describe("what the client receives from the origin", () => {
  it("every Set-Cookie header, each on its own, and the origin's status, body and headers", async () => {
    const { key } = await createKey({ ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }] });
    const res = await call("/echo/cookies", key);
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]);
    expect(res.headers.get("Content-Type")).toBe("text/plain");
    expect(res.headers.get("RateLimit")).toMatch(/^"minute";r=9;t=\d+$/);
    expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
    expect(await res.text()).toBe("cookies");
  });

  it("none of the hop-by-hop headers keygate must remove itself, nor those its Connection header names", async () => {
    const { key } = await createKey();
    const res = await call("/echo/hop-by-hop", key);
    expect(res.status).toBe(200);
    for (const name of ["proxy-authenticate", "proxy-authorization", "proxy-connection", "x-hop-secret", "keep-alive", "upgrade", "te", "trailer"]) {
      expect(res.headers.has(name), name).toBe(false);
    }
    expect(res.headers.get("X-Kept")).toBe("yes");
  });

  it("keygate's request id and rate-limit fields replace the origin's own of the same name, never join them", async () => {
    const { key } = await createKey({ ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] });
    const res = await call("/echo/own-headers", key);
    expect(res.status).toBe(200);
    // the origin echoed keygate's id: the client still sees one id, not "req_x, req_x"
    expect(res.headers.get("X-Request-Id")).toMatch(/^req_[0-9A-Za-z]+$/);
    expect(res.headers.get("RateLimit-Policy")).toBe('"minute";q=100;w=60');
    expect(res.headers.get("RateLimit")).toMatch(/^"minute";r=99;t=\d+$/);
    expect(res.headers.get("X-RateLimit-Limit")).toBe("100");
    expect(res.headers.get("X-RateLimit-Remaining")).toBe("99");
    expect(res.headers.get("X-RateLimit-Reset")).toMatch(/^\d+$/);
    expect(res.headers.get("X-Kept")).toBe("yes");
  });
});

describe("methods keygate never proxies (check 9b)", () => {
  it("TRACE is 405 METHOD_NOT_ALLOWED and charges nothing", async () => {
    const created = await createKey({ credits: { remaining: 2 }, ratelimits: [{ name: "minute", limit: 2, windowSeconds: 60 }] });
    for (let i = 0; i < 3; i++) {
      const res = await call("/echo", created.key, { method: "TRACE" });
      await expectProblem(res.clone(), 405, "METHOD_NOT_ALLOWED");
      expect(res.headers.get("Allow")).not.toMatch(/TRACE|CONNECT/);
    }
    expect((await call("/echo", created.key)).status).toBe(200);
    expect((await call("/echo", created.key)).status).toBe(200);
    expect((await getRecord(created.id)).credits?.remaining).toBe(0);
  });

  it("checks 1 to 9 still come first: a TRACE without a key is 401, with a key lacking the scope 403", async () => {
    await expectProblem(await call("/echo", null, { method: "TRACE" }), 401, "MISSING_KEY");
    const { key } = await createKey();
    await expectProblem(await call("/posts", key, { method: "TRACE" }), 403, "INSUFFICIENT_SCOPE");
  });
});

describe("keygate's own paths are found in their canonical form", () => {
  it("//admin/keys with a consumer key is the admin API, which refuses it; the origin never sees it", async () => {
    const { key } = await createKey();
    const marker = `admin-double-slash-${crypto.randomUUID()}`;
    for (const path of ["//admin/keys", "/admin//keys", "/./admin/keys", "/x/../admin/keys", "/%61dmin/keys", "/ADMIN/keys"]) {
      const res = await send(path, { headers: { Authorization: `Bearer ${key}`, "X-Corpus-Marker": marker, "CF-Connecting-IP": "198.51.100.7" } });
      const problem = await expectProblem(res, 403, "FORBIDDEN");
      expect(problem.detail).toMatch(/admin/);
    }
    expect(await markersSeenByOrigin()).not.toContain(marker);
    const listed = await send("//Admin//keys?limit=1", { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { data: unknown[] }).data).toHaveLength(1);
  });

  it("an admin path with no canonical form is the admin API's 404, never a consumer's code", async () => {
    const { id, key } = await createKey();
    const marker = `admin-non-canonical-${crypto.randomUUID()}`;
    const paths = [
      `/admin/keys/${id}%00`, "/admin/keys%2f", "/admin/keys%5Cx", "/admin/keys;x", "/admin;x/keys", "/admin/keys/..;/keys",
      "/admin/keys/%zz", "/admin/keys/%2", "/admin\\keys%00", "/ADMIN/Keys%00", "//Admin//keys%2F", "/%61dmin/keys%00",
      "/x/../admin/keys%00", "/admin%00", "/admin%2Fkeys", "/%2e/admin/keys%00", "/.well-known/jwks.json%00", "/healthz;x",
    ];
    const credentials: [string, Record<string, string>][] = [
      ["none", {}],
      ["admin token", { Authorization: `Bearer ${ADMIN_TOKEN}` }],
      ["consumer key", { Authorization: `Bearer ${key}` }],
      ["malformed key", { "X-API-Key": "kg_live_nonsense" }],
    ];
    for (const path of paths) {
      for (const [label, headers] of credentials) {
        for (const method of ["GET", "DELETE"]) {
          const res = await send(path, { method, headers: { ...headers, "X-Corpus-Marker": marker, "CF-Connecting-IP": "198.51.100.7" } });
          expect(res.status, `${method} ${path} with ${label}`).toBe(404);
          const problem = await expectProblem(res, 404, "NOT_FOUND");
          expect(problem.detail, path).toMatch(/no canonical form/);
          expect(res.headers.get("Cache-Control")).toBe("no-store");
          expect(res.headers.get("WWW-Authenticate")).toBeNull();
        }
      }
    }
    expect(await markersSeenByOrigin()).not.toContain(marker);
    // The key is untouched, and a consumer path with no canonical form is still the gateway's.
    expect((await admin(`/keys/${id}`)).status).toBe(200);
    await expectProblem(await call("/v1/posts%00", key), 404, "NO_ROUTE");
    await expectProblem(await call("/administrator%00", null), 401, "MISSING_KEY");
  });
});

describe("a Host header that is not one host[:port]", () => {
  const hosts = [
    "evil.example/admin/keys?",
    "evil.example/admin/keys#",
    "evil.example?",
    "a.example, b.example",
    "evil example",
    "user@evil.example",
    "evil.example\\admin",
    "evil.example:80:80",
    "evil.example:port",
    "%65vil.example",
    "",
  ];

  it("never steers routing: 400 VALIDATION_FAILED, neither the admin API nor an origin reached", async () => {
    const gateway = gatewayWith({});
    const { key } = await createKey({ scopes: ["*"] });
    const marker = `bad-host-${crypto.randomUUID()}`;
    for (const host of hosts) {
      for (const [path, credential] of [["/echo", key], ["/admin/keys", ADMIN_TOKEN], ["/keys", ADMIN_TOKEN], ["/healthz", null]] as const) {
        const res = await gateway.call(path, credential, { headers: { Host: host, "X-Corpus-Marker": marker } });
        const problem = await expectProblem(res, 400, "VALIDATION_FAILED");
        expect(problem.detail, host).toMatch(/Host/);
      }
    }
    expect(await markersSeenByOrigin()).not.toContain(marker);
  });

  it("a host name, an IPv4 or IPv6 address, each with or without a port, is served", async () => {
    const gateway = gatewayWith({});
    const { key } = await createKey();
    for (const host of ["gateway.test", "GATEWAY.test:8443", "127.0.0.1:8787", "[::1]:8787", "[2001:db8::1]", "my_host.internal", "gateway.test."]) {
      const res = await gateway.call("/echo", key, { headers: { Host: host } });
      expect(res.status, host).toBe(200);
    }
  });
});

describe("the admin API's challenges (RFC 6750)", () => {
  it("no credentials: a bare challenge, without an error attribute", async () => {
    const res = await admin("/keys", { token: "" });
    await expectProblem(res.clone(), 401, "UNAUTHORIZED");
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="keygate"');
  });

  it("wrong credentials: error=\"invalid_token\"", async () => {
    const res = await admin("/keys", { token: "not-the-token" });
    await expectProblem(res.clone(), 401, "UNAUTHORIZED");
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer realm="keygate", error="invalid_token"/);
  });
});

describe("the gateway's challenge to a key without the scope (RFC 6750 section 3.1)", () => {
  it("403 INSUFFICIENT_SCOPE names the missing scopes in WWW-Authenticate", async () => {
    const { key } = await createKey({ scopes: ["comments:read"] });
    const read = await call("/posts/1", key);
    await expectProblem(read.clone(), 403, "INSUFFICIENT_SCOPE");
    expect(read.headers.get("WWW-Authenticate")).toBe('Bearer error="insufficient_scope", scope="posts:read"');

    const routes = [{ name: "both", prefix: "/both", upstream: env.UPSTREAM_URL, scopes: { "*": ["posts:read", "posts:write", "comments:read"] } }];
    const both = await gatewayWith({ ROUTES: JSON.stringify(routes) }).call("/both", key, { method: "POST" });
    const body = await expectProblem(both.clone(), 403, "INSUFFICIENT_SCOPE");
    expect((body as typeof body & { missingScopes: string[] }).missingScopes).toEqual(["posts:read", "posts:write"]);
    expect(both.headers.get("WWW-Authenticate")).toBe('Bearer error="insufficient_scope", scope="posts:read posts:write"');
  });
});

describe("D1 unreachable on admin reads", () => {
  const down = gatewayWith({ DB: throwing<D1Database>("D1") });
  for (const path of ["/admin/keys", "/admin/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M", "/admin/audit"]) {
    it(`GET ${path} is 503 GATEWAY_UNAVAILABLE with Retry-After, not 500`, async () => {
      const res = await down.call(path, ADMIN_TOKEN);
      await expectProblem(res.clone(), 503, "GATEWAY_UNAVAILABLE");
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    });
  }

  it("an admin key cannot be checked either: 503, not 500", async () => {
    const { key } = await createKey({ scopes: ["admin:read"] });
    await expectProblem(await down.call("/admin/keys", key), 503, "GATEWAY_UNAVAILABLE");
  });
});

describe("CORS for browser consumers", () => {
  const origin = env.UPSTREAM_URL;
  const routes = [
    { name: "browser", prefix: "/browser", upstream: origin, cors: { origins: ["https://app.example.com"], headers: ["X-Trace"], maxAge: 120 } },
    { name: "anyone", prefix: "/anyone", upstream: origin, cors: { origins: ["*"] } },
    { name: "plain", prefix: "/plain", upstream: origin },
  ];
  const gateway = gatewayWith({ ROUTES: JSON.stringify(routes) });
  const preflightFrom = (from: string) => ({
    method: "OPTIONS",
    headers: { Origin: from, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, x-trace" },
  });

  it("keygate answers the preflight itself: no key needed, the origin never reached", async () => {
    const marker = `preflight-${crypto.randomUUID()}`;
    const init = preflightFrom("https://app.example.com");
    const res = await gateway.call("/browser/items", null, { ...init, headers: { ...init.headers, "X-Corpus-Marker": marker } });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(res.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect(res.headers.get("Access-Control-Allow-Methods")).not.toMatch(/TRACE|CONNECT/);
    const allowed = res.headers.get("Access-Control-Allow-Headers")!.toLowerCase();
    for (const name of ["authorization", "x-api-key", "content-type", "x-trace"]) expect(allowed).toContain(name);
    expect(res.headers.get("Access-Control-Max-Age")).toBe("120");
    expect(res.headers.get("Vary")).toContain("Origin");
    expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
    expect(await markersSeenByOrigin()).not.toContain(marker);
  });

  it("names each allowed request header once, whatever case the route lists it in", async () => {
    const listed = [
      { name: "dupes", prefix: "/dupes", upstream: origin, cors: { origins: ["https://app.example.com"], headers: ["Content-Type", "authorization", "X-Trace", "x-trace"] } },
    ];
    const res = await gatewayWith({ ROUTES: JSON.stringify(listed) }).call("/dupes/items", null, preflightFrom("https://app.example.com"));
    expect(res.status).toBe(204);
    const names = res.headers.get("Access-Control-Allow-Headers")!.split(",").map((name) => name.trim().toLowerCase());
    expect(names.sort()).toEqual(["authorization", "content-type", "x-api-key", "x-trace"]);
  });

  it("a preflight from an origin the route does not list gets no permission", async () => {
    const res = await gateway.call("/browser/items", null, preflightFrom("https://evil.example"));
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("the route's answers carry the CORS headers, refusals included; never `*`", async () => {
    const { key } = await createKey({ ratelimits: [{ name: "minute", limit: 1, windowSeconds: 60 }] });
    const from = { headers: { Origin: "https://app.example.com" } };
    const checkCors = (res: Response, allowOrigin = "https://app.example.com") => {
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe(allowOrigin);
      const exposed = res.headers.get("Access-Control-Expose-Headers")!;
      for (const name of ["RateLimit", "RateLimit-Policy", "X-RateLimit-Remaining", "Retry-After", "X-Request-Id"]) expect(exposed).toContain(name);
      expect(res.headers.get("Vary")).toContain("Origin");
    };
    const ok = await gateway.call("/browser/items", key, from);
    expect(ok.status).toBe(200);
    checkCors(ok);
    const limited = await gateway.call("/browser/items", key, from);
    await expectProblem(limited.clone(), 429, "RATE_LIMITED");
    checkCors(limited);
    const missing = await gateway.call("/browser/items", null, from);
    await expectProblem(missing.clone(), 401, "MISSING_KEY");
    checkCors(missing);
    const anyone = await gateway.call("/anyone/x", null, { headers: { Origin: "https://whoever.example" } });
    checkCors(anyone, "https://whoever.example");
    const stranger = await gateway.call("/browser/items", null, { headers: { Origin: "https://evil.example" } });
    expect(stranger.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("a route without cors treats OPTIONS like any other method", async () => {
    await expectProblem(await gateway.call("/plain/x", null, preflightFrom("https://app.example.com")), 401, "MISSING_KEY");
    const { key } = await createKey();
    const res = await gateway.call("/plain/x", key, preflightFrom("https://app.example.com"));
    expect((await echoed(res)).method).toBe("OPTIONS");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
