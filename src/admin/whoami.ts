import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ROLES } from "../config";
import { jsonContent, problemResponses } from "./openapi";

const WhoamiSchema = z
  .object({
    actor: z.string().openapi({
      description: '"root" for ADMIN_TOKEN, the admin key\'s id, or "user:<email>" for an operator\'s identity: what the audit log records',
      example: "user:alice@example.com",
    }),
    role: z.enum(ROLES).openapi({
      description:
        "viewer reads everything; operator also changes keys and owners and makes portal links; admin also manages plans " +
        "and webhooks. ADMIN_TOKEN and admin:write keys are admin, admin:read keys viewer.",
    }),
    canWrite: z.boolean().openapi({ description: "whether the caller may change anything: false for viewers (admin:read keys among them)" }),
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
      description: "Answers for any admin credential: ADMIN_TOKEN, an admin key, or an operator's identity; anything else is 401.",
      responses: { 200: jsonContent(WhoamiSchema, "The caller"), ...problemResponses() },
    }),
    (c) => {
      const { id, role, canWrite } = c.get("actor");
      return c.json({ actor: id, role, canWrite }, 200);
    },
  );
}
