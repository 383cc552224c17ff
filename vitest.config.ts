import { defineConfig } from "vitest/config";

// Workers tests run inside workerd; node tests drive a real local gateway from outside.
export default defineConfig({
  test: {
    projects: ["test/workers/vitest.config.ts", "test/node/vitest.config.ts"],
  },
});
