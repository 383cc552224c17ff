import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createKey } from "./helpers";
import { expectProblem, gatewayWith } from "./gateway-helpers";
import { canonicalPath } from "../../src/http/paths";

/**
 * DESIGN.md "Routes": paths are made canonical before matching and forwarded canonical, so no
 * origin that reads paths more loosely than keygate can be reached around a route's scopes.
 * Overlapping routes: `/v1/posts` needs `posts:read`, `/` needs nothing. The origin reads
 * every path as loosely as common origins do (test/support/origin.ts, `looselyRead`) and says
 * which path it served; a key without `posts:read` must never be served `/v1/posts`.
 */
const origin = `${env.UPSTREAM_URL}/decoding`;
const routes = [
  { name: "posts", prefix: "/v1/posts", upstream: origin, scopes: { "*": ["posts:read"] } },
  { name: "exact", prefix: "/v1/Exact", upstream: origin, caseSensitive: true, scopes: { "*": ["exact:read"] } },
  { name: "rest", prefix: "/", upstream: origin },
];
const gateway = gatewayWith({ ROUTES: JSON.stringify(routes) });

/** [path as sent, the canonical path keygate forwards, or null when no route may serve it] */
const FORMS: [string, string | null][] = [
  ["/v1/posts/1", "/v1/posts/1"],
  ["/v1/%70osts/1", "/v1/posts/1"],
  ["/v1/%70%6F%73%74%73/1", "/v1/posts/1"],
  ["/v1/p%6fsts/1", "/v1/posts/1"],
  ["/%76%31/posts/1", "/v1/posts/1"],
  ["/V1/POSTS/1", "/V1/POSTS/1"],
  ["/v1/Posts/1", "/v1/Posts/1"],
  ["/V1/%50OSTS/1", "/V1/POSTS/1"],
  ["/v1/posts/../posts/1", "/v1/posts/1"],
  ["/v1/x/../posts/1", "/v1/posts/1"],
  ["/v1/x/%2e%2e/posts/1", "/v1/posts/1"],
  ["/v1/x/%2E%2E/posts/1", "/v1/posts/1"],
  ["/v1/x/.%2e/posts/1", "/v1/posts/1"],
  ["/v1/./posts/1", "/v1/posts/1"],
  ["/v1/%2e/posts/1", "/v1/posts/1"],
  ["/./v1/posts/1", "/v1/posts/1"],
  ["/x/../../v1/posts/1", "/v1/posts/1"],
  ["/v1/posts/%2e%2e/%2e%2e/v1/posts/1", "/v1/posts/1"],
  ["//v1/posts/1", "/v1/posts/1"],
  ["/v1//posts/1", "/v1/posts/1"],
  ["/v1///posts//1", "/v1/posts/1"],
  ["/v1\\posts\\1", "/v1/posts/1"],
  ["/v1/posts/1/..", "/v1/posts/"],
  ["/v1/posts?next=/../admin", "/v1/posts"],
  ["/v1/posts%2F1", null],
  ["/v1%2Fposts/1", null],
  ["/v1/POSTS%2f1", null],
  ["/v1/%70osts%2F1", null],
  ["/v1/posts%5C1", null],
  ["/v1/posts%5c..%5c..%5cv1%5cposts", null],
  ["/v1/posts%00/1", null],
  ["/v1/posts;x/1", null],
  ["/v1/x/..;/posts/1", null],
  ["/v1;/posts/1", null],
  ["/v1/posts/1;jsessionid=abc", null],
  ["/v1/posts.;/1", null],
  ["/v1/posts%3B/1", null],
  ["/v1/x/..%3B/posts/1", null],
  ["/v1/posts%zz/1", null],
  ["/v1/posts%2/1", null],
  ["/v1/postsx/1", "/v1/postsx/1"],
  // a segment ending in `.` or a space, which IIS and Windows trim, or in another whitespace or control character
  ["/v1/posts./1", null],
  ["/v1/posts%2e/1", null],
  ["/v1/posts%2E/1", null],
  ["/v1/posts../1", null],
  ["/v1/posts.../1", null],
  ["/v1/posts%20/1", null],
  ["/v1/posts /1", null],
  ["/v1/posts%20%20/1", null],
  ["/v1/posts.%20/1", null],
  ["/v1/posts%20./1", null],
  ["/v1/posts%09/1", null],
  ["/v1/posts%0B/1", null],
  ["/v1/posts.", null],
  ["/v1./posts/1", null],
  ["/v1%2E/posts/1", null],
  ["/v1/posts/1.", null],
  // an encoded `%`: a server that decodes twice would read another path
  ["/v1/%2570osts/1", null],
  ["/v1/posts%252F1", null],
  ["/v1/posts%25/1", null],
  ["/v1/%252e%252e/posts/1", null],
  ["/v1/posts%2525/1", null],
  // dots and spaces elsewhere in a segment are ordinary characters
  ["/v1/posts/v1.0/1", "/v1/posts/v1.0/1"],
  ["/v1/posts/.well-known", "/v1/posts/.well-known"],
  ["/v1/posts/a%20b", "/v1/posts/a%20b"],
  ["/v1/post.s/1", "/v1/post.s/1"],
  ["/v1/%20posts/1", "/v1/%20posts/1"],
  ["/v1/ｐosts/1", "/v1/%EF%BD%90osts/1"],
  ["/v1/po%C5%BFts/1", "/v1/po%C5%BFts/1"],
  ["/v1/p%c3%b6sts/1", "/v1/p%C3%B6sts/1"],
  ["/v1/exact/1", "/v1/exact/1"],
];

describe("canonical paths", () => {
  it(`the corpus holds at least 60 forms`, () => expect(FORMS.length).toBeGreaterThanOrEqual(60));

  for (const [sent, canonical] of FORMS) {
    it(`${sent} is ${canonical ?? "unroutable"}`, () => {
      expect(canonicalPath(new URL(`https://gateway.test${sent}`).pathname)).toBe(canonical === null ? null : canonical.split("?")[0]);
    });
  }
});

describe("no path form reaches the origin under a route whose scopes the key lacks", async () => {
  const outsider = await createKey({ scopes: ["other:read"] });
  const reader = await createKey({ scopes: ["posts:read"] });
  /** The origin's reading of the path (sent URI-encoded in X-Served-Path). */
  const servedAsPosts = (header: string | null) => {
    const served = header === null ? null : decodeURI(header);
    return served === "/v1/posts" || served?.startsWith("/v1/posts/") === true;
  };

  for (const [sent, canonical] of FORMS) {
    it(sent, async () => {
      const res = await gateway.call(sent, outsider.key);
      if (res.headers.get("X-Origin") === "echo") {
        const served = res.headers.get("X-Served-Path");
        expect(servedAsPosts(served), `the origin served ${served}`).toBe(false);
        const { url } = (await res.json()) as { url: string };
        expect(url.split("?")[0]).toBe(`/decoding${canonical}`);
        return;
      }
      const code = canonical === null ? "NO_ROUTE" : "INSUFFICIENT_SCOPE";
      await expectProblem(res, canonical === null ? 404 : 403, code);

      // With the scope, every form that means posts is served as posts, at its canonical path.
      const allowed = await gateway.call(sent, reader.key);
      if (canonical === null) return void (await expectProblem(allowed, 404, "NO_ROUTE"));
      expect(allowed.status).toBe(200);
      expect(servedAsPosts(allowed.headers.get("X-Served-Path"))).toBe(true);
      const { url } = (await allowed.json()) as { url: string };
      expect(url).toBe(`/decoding${canonical}${new URL(`https://gateway.test${sent}`).search}`);
    });
  }

  it("a caseSensitive route matches only its own case", async () => {
    await expectProblem(await gateway.call("/v1/Exact/1", outsider.key), 403, "INSUFFICIENT_SCOPE");
    const other = await gateway.call("/v1/EXACT/1", outsider.key);
    expect(other.status).toBe(200);
    expect(other.headers.get("X-Served-Path")).toBe("/v1/exact/1");
  });
});

describe("keygate's admin path in a form some servers trim or decode twice", () => {
  const everything = gatewayWith({ ROUTES: JSON.stringify([{ name: "rest", prefix: "/", upstream: origin }]) });

  it("is no route: neither the admin API nor the origin's /admin", async () => {
    const { key } = await createKey({ scopes: ["*"] });
    for (const path of ["/admin./keys", "/admin%2e/keys", "/admin%20/keys", "/admin.%20/keys", "/%2561dmin/keys", "/admin%252Fkeys"]) {
      const res = await everything.call(path, key);
      expect(res.headers.get("X-Served-Path"), path).toBeNull();
      await expectProblem(res, 404, "NO_ROUTE");
    }
  });
});
