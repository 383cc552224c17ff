import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations that wrangler and the tests apply.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema.ts",
  out: "./migrations",
});
