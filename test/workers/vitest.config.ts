import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { assertionJwk } from "../../scripts/local-gateway.ts";

/** Mirrored in helpers.ts, which runs inside workerd and cannot import this file. */
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";

/** Routes the workers tests exercise; every upstream is the real origin from global-setup. */
function testRoutes(originPort: number) {
  const origin = `http://127.0.0.1:${originPort}`;
  return [
    { name: "echo", prefix: "/echo", upstream: origin },
    { name: "posts", prefix: "/posts", upstream: origin, scopes: { GET: ["posts:read"], "*": ["posts:write"] } },
    { name: "query", prefix: "/query", upstream: origin, allowQueryKey: true },
    { name: "costly", prefix: "/costly", upstream: origin, cost: 5 },
    { name: "free", prefix: "/free", upstream: origin, cost: 0 },
    { name: "slow", prefix: "/slow", upstream: origin, timeoutMs: 300 },
    // longer than STATE_TIMEOUT_MS below: the request's one timer must be re-armed for it
    { name: "patient", prefix: "/patient", upstream: origin, timeoutMs: 2600 },
    { name: "reset", prefix: "/reset", upstream: origin },
    { name: "down", prefix: "/down", upstream: "http://127.0.0.1:9" },
    { name: "strip", prefix: "/strip", upstream: `${origin}/base`, stripPrefix: true },
    { name: "open", prefix: "/open", upstream: origin, failOpen: true },
  ];
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations(new URL("../../migrations", import.meta.url).pathname);
  return {
    root: new URL("../..", import.meta.url).pathname,
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: new URL("../../wrangler.toml", import.meta.url).pathname },
        miniflare: {
          // Every var is set here, so nothing a developer keeps in .dev.vars reaches the tests.
          bindings: {
            TEST_MIGRATIONS: migrations,
            // the stand-in identity provider's control server (test/support/idp.ts): test-only, like TEST_MIGRATIONS
            TEST_IDP_URL: `http://127.0.0.1:${inject("idpPort")}`,
            UPSTREAM_URL: `http://127.0.0.1:${inject("originPort")}`,
            ADMIN_PATH: "/admin",
            PORTAL_PATH: "/portal",
            PORTAL_TITLE: "API keys",
            MAX_KEYS_PER_OWNER: "100",
            ADMIN_TOKEN: TEST_ADMIN_TOKEN,
            ASSERTION_PRIVATE_KEY: assertionJwk("test-key"),
            ROUTES: JSON.stringify(testRoutes(inject("originPort"))),
            STATE_TIMEOUT_MS: "2000",
            // Usage batches reach D1 1 ms after their first request (10 s in production): a test that
            // waits for a request's waitUntil (gatewayWith) also waits for its batch, so it must be
            // short. Usage routes read D1; admin-usage.test.ts points them at the SQL API stand-in.
            USAGE_FLUSH_MS: "1",
            // Webhook retries a second apart (5 s to 10 h in production), and attempts that give up
            // after a second (15 s), so a failing receiver is seen through within a test.
            WEBHOOK_RETRY_SECONDS: "[1,1,1]",
            WEBHOOK_TIMEOUT_MS: "1000",
            // GitHub's secret-scanning keys, as the test origin publishes them (test/support/origin.ts).
            SECRET_SCANNING_KEYS_URL: `http://127.0.0.1:${inject("originPort")}/github/keys`,
          },
        },
      })),
    ],
    test: {
      name: "workers",
      include: ["test/workers/**/*.test.ts"],
      globalSetup: ["test/support/global-setup.ts"],
      setupFiles: ["test/workers/setup.ts"],
      testTimeout: 20_000,
    },
  };
});
