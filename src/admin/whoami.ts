import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { jsonContent, problemResponses } from "./openapi";

const WhoamiSchema = z
  .object({
    actor: z.string().openapi({ description: '"root" for ADMIN_TOKEN, else the admin key\'s id: what the audit log records', example: "root" }),
    canWrite: z.boolean().openapi({ description: "true for ADMIN_TOKEN and admin:write keys; false for admin:read keys" }),
  })
  .openapi("Whoami");

/**
 * Who the caller is and whether it may change anything, found without changing anything:
 * the dashboard shows no write control to a read-only admin key.
 */
export function registerWhoamiRoute(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/whoami",
      operationId: "whoami",
      tags: ["auth"],
      summary: "The caller's identity and permission",
      description: "Answers for any admin token or admin key; a token that is neither is 401.",
      responses: { 200: jsonContent(WhoamiSchema, "The caller"), ...problemResponses() },
    }),
    (c) => {
      const { id, canWrite } = c.get("actor");
      return c.json({ actor: id, canWrite }, 200);
    },
  );
}
