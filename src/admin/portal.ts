import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { clientIp } from "../middleware";
import { mintLink } from "../identity/portal-sessions";
import { OwnerId } from "../api/schemas";
import { bodyRequired } from "./body";
import { jsonBody, jsonContent, problemResponses } from "./openapi";

const PortalSessionBody = z
  .object({
    ownerId: OwnerId,
    returnUrl: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .max(2048)
      .optional()
      .openapi({ description: "Where the portal's “Back” link takes the owner: your app's page.", example: "https://app.example.com/settings" }),
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(3600)
      .openapi({ description: "How long the portal session lasts, from now: 60 to 86400 seconds (default 3600)." }),
  })
  .strict();

const PortalLinkSchema = z
  .object({
    url: z.string().openapi({
      description:
        "The link to hand the owner. It holds a one-use code: it works once, within 10 minutes (or until expiresAt, when " +
        "sooner). Opening it starts a session in a cookie and lands on the portal, without the code in the address.",
      example: "https://api.example.com/portal/start?code=kgp_…",
    }),
    expiresAt: z.string().openapi({ format: "date-time", description: "When the session the link starts ends (now + ttlSeconds)." }),
  })
  .openapi("PortalLink");

/**
 * Portal links for the operator's backend (DESIGN.md, "Key holders: the portal"), as Stripe's
 * customer portal sessions: the backend asks for one when its user wants to manage their keys,
 * and redirects the user to `url`. Needs the operator role; audited as `portal.link`.
 */
export function registerPortalRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/portal/sessions",
      operationId: "createPortalSession",
      tags: ["portal"],
      summary: "Make a portal link for an owner",
      description:
        "Answers a one-use link into the portal for `ownerId`: the key holder manages their own keys there. 409 CONFLICT when " +
        "the portal is off (PORTAL_PATH is empty). Needs the operator or admin role.",
      middleware: [bodyRequired()],
      request: { body: jsonBody(PortalSessionBody) },
      responses: { 201: jsonContent(PortalLinkSchema, "The link, shown this once"), ...problemResponses({ body: true, own: [409] }) },
    }),
    async (c) => {
      const { config } = c.get("services");
      if (config.portalPath === null) throw new ProblemError("CONFLICT", "The portal is off (PORTAL_PATH is empty), so there is nothing to link to.");
      const body = c.req.valid("json");
      const audit = { actor: c.get("actor").id, requestId: c.get("requestId"), clientIp: clientIp(c.req.raw.headers) };
      const link = await mintLink(c.env.DB, { ownerId: body.ownerId, returnUrl: body.returnUrl ?? null, ttlSeconds: body.ttlSeconds }, audit);
      const origin = config.publicUrl?.origin ?? new URL(c.req.url).origin;
      const url = `${origin}${config.portalPath}/start?code=${link.code}`;
      return c.json({ url, expiresAt: new Date(link.sessionExpiresAt).toISOString() }, 201);
    },
  );
}
