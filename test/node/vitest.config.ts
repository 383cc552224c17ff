import { defineConfig } from "vitest/config";

/** Tests that run in Node against a real local gateway (workerd): end to end, CLI, benchmark smoke. */
export default defineConfig({
  root: new URL("../..", import.meta.url).pathname,
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
