import { z } from "@hono/zod-openapi";
import { AllowedIps, AS_GIVEN, IsoTime, KeyRecordSchema, LIMITS, LimitStateSchema, Name, RefillSchema, Scopes } from "../api/schemas";
import { Source, SeriesSchema, UsageFiguresSchema } from "../api/usage";

/** The portal API's shapes (DESIGN.md, "Key holders: the portal"). */

/** A rotation's grace period in the portal: at most 7 days (the admin API allows 30). */
export const MAX_PORTAL_GRACE_SECONDS = 7 * 86_400;

/** A key as its holder sees it: the record without `metadata`, which is the operator's. */
export const PortalKeySchema = KeyRecordSchema.omit({ metadata: true }).openapi("PortalKey");

export const CreatedPortalKeySchema = PortalKeySchema.extend({
  key: z.string().openapi({ description: "the key itself: shown this once, never again" }),
}).openapi("CreatedPortalKey");

export const PortalKeyListSchema = z
  .object({ data: z.array(PortalKeySchema), nextCursor: z.string().nullable() })
  .openapi("PortalKeyList");

export const CreditsLeftSchema = z
  .object({
    remaining: z.number().int(),
    refill: RefillSchema.nullable(),
    refillIn: z.number().int().nullable().openapi({ description: "seconds until the next refill; null when the credits never refill" }),
  })
  .openapi("CreditsLeft");

const OwnerFields = {
  ownerId: z.string().openapi({ example: "acct_42" }),
  name: z.string().nullable().openapi({ description: "the owner's name, when the operator gave one" }),
  plan: z.string().nullable().openapi({ description: "the owner's plan, when it has one" }),
  limits: z.array(LimitStateSchema).openapi({ description: "the limits all the owner's keys share, with what is left in each window" }),
  credits: CreditsLeftSchema.nullable().openapi({ description: "the balance all the owner's keys draw from, with what is left" }),
};

export const OwnerSchema = z.object(OwnerFields).openapi("PortalOwner");

export const MeSchema = z
  .object({
    ...OwnerFields,
    keys: z.number().int().openapi({ description: "how many of the owner's keys are usable (neither revoked nor expired)" }),
    returnUrl: z.string().nullable().openapi({ description: "where the operator's app asked the portal to send the owner back; null without one" }),
  })
  .openapi("PortalMe");

export const KeySelfSchema = z
  .object({
    key: PortalKeySchema,
    limits: z.array(LimitStateSchema).openapi({ description: "the key's own limits, with what is left in each window" }),
    credits: CreditsLeftSchema.nullable().openapi({ description: "the key's credits with what is left; null: unlimited" }),
    owner: OwnerSchema,
  })
  .openapi("PortalKeySelf");

export const CreatePortalKeyBody = z
  .object({
    name: Name,
    scopes: Scopes.default([]).openapi({
      description: "At most what the owner may hold (403 SCOPE_NOT_ALLOWED beyond it): today, the scopes of the owner's usable keys.",
    }),
    environment: z.enum(["live", "test"]).default("live"),
    expiresIn: z
      .number()
      .int()
      .min(1)
      .max(LIMITS.maxExpiresInSeconds)
      .optional()
      .openapi({ description: "Seconds from now; left out, the key does not expire." }),
    allowedIps: AllowedIps.default([]),
  })
  .strict()
  .openapi({ description: AS_GIVEN });

export const UpdatePortalKeyBody = z
  .object({ name: Name.optional(), allowedIps: AllowedIps.optional(), enabled: z.boolean().optional() })
  .strict()
  .openapi({ description: AS_GIVEN });

export const RotatePortalKeyBody = z
  .object({
    gracePeriodSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_PORTAL_GRACE_SECONDS)
      .default(0)
      .openapi({ description: "How long the old key keeps working: 0 to 604800 seconds (7 days)." }),
  })
  .strict();

export const OwnerUsageSchema = z
  .object({
    ownerId: z.string(),
    from: IsoTime,
    to: IsoTime,
    granularity: z.enum(["hour", "day"]),
    source: Source,
    series: SeriesSchema,
    totals: UsageFiguresSchema,
  })
  .openapi("PortalUsage");
