import { z } from "@hono/zod-openapi";
import { SCOPE_PATTERN } from "../keys/scopes";
import { parseRange, RANGE_PATTERN } from "../keys/ip";

/**
 * Schemas the admin API and the portal API share: the key record's fields as clients send and
 * receive them, limits and credits, problems, ids and pages. One definition, so a field reads and
 * validates the same in both documents.
 */

/** Limits that DESIGN.md leaves open; docs/behaviour.md ("Validation") writes them down. */
export const LIMITS = {
  metadataBytes: 4096,
  scopes: 50,
  allowedIps: 100,
  ratelimits: 10,
  maxWindowSeconds: 30 * 86_400,
  maxGraceSeconds: 30 * 86_400,
  maxExpiresInSeconds: 10 * 365 * 86_400,
  maxCredits: 1_000_000_000_000,
  pageSize: 50,
  maxPageSize: 100,
};

/**
 * JSON Schema keywords that `.openapi()`'s metadata type does not list (`if`/`then`/`else`,
 * `propertyNames`): the generator copies them into the document as given.
 */
export const jsonSchema = (keywords: Record<string, unknown>): object => keywords;

/** What every admin body must be besides its fields' rules (src/admin/body.ts, docs/behaviour.md). */
export const AS_GIVEN =
  "Every string and key in it, at any depth, is well-formed Unicode (no lone surrogate), no key is `__proto__`, " +
  "and no number is too large for JSON: keygate stores what was sent or refuses it (400 VALIDATION_FAILED naming the place).";

export const Name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
  .openapi({ example: "Acme production", description: "1-100 characters, no control characters (U+0000-U+001F, U+007F)" });

/** Sent to the origin in a header, so printable ASCII only. */
export const OwnerId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/, "must be printable ASCII without leading or trailing spaces")
  .openapi({ example: "acct_42" });

export const Scopes = z
  .array(z.string().regex(SCOPE_PATTERN, 'must be "<resource>:<action>", "<resource>:*", "*:<action>" or "*"'))
  .max(LIMITS.scopes)
  .openapi({ example: ["posts:read", "posts:write"] });

export const AllowedIps = z
  .array(
    z
      .string()
      .max(64)
      .refine(
        (s) => parseRange(s) !== null,
        "must be an IPv4 address (four decimal parts, no leading zeros), an IPv6 address (RFC 4291 text form), or a CIDR range of either",
      )
      .openapi({
        pattern: RANGE_PATTERN,
        description:
          "An IPv4 address (four decimal parts, no leading zeros), an IPv6 address (RFC 4291 text form, no zone id), " +
          "or a CIDR range of either; an IPv4-mapped range (`::ffff:10.0.0.0/104`) counts IPv6 bits and needs at least /96.",
      }),
  )
  .max(LIMITS.allowedIps)
  .openapi({ example: ["203.0.113.0/24", "2001:db8::/32"], description: "Empty: any address." });

export const positiveInt = (max: number) => z.number().int().min(1).max(max);

export const RateLimitSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, "must be 1-32 letters, digits, _ . or -"),
    limit: positiveInt(1_000_000_000),
    windowSeconds: positiveInt(LIMITS.maxWindowSeconds),
  })
  .strict()
  .openapi("RateLimit", { example: { name: "minute", limit: 100, windowSeconds: 60 } });

export const RefillSchema = z
  .object({
    amount: positiveInt(LIMITS.maxCredits),
    interval: z.enum(["daily", "monthly"]),
    day: z.number().int().min(1).max(31).optional(),
  })
  .strict()
  .refine((r) => r.day === undefined || r.interval === "monthly", "day applies only to a monthly refill")
  .openapi({
    description: "`day` (1-31; default 1, the month's last day when it is shorter) applies to a monthly refill only.",
    ...jsonSchema({
      if: { type: "object", required: ["interval"], properties: { interval: { const: "daily" } } },
      then: { not: { type: "object", required: ["day"], properties: { day: {} } } },
    }),
  });

export const CREDITS_EXAMPLE = { remaining: 1000, refill: { amount: 1000, interval: "monthly", day: 1 } } as const;

/** Credits as keygate answers them: every field present. */
export const CreditsRecordSchema = z
  .object({ remaining: z.number().int(), refill: RefillSchema.nullable() })
  .openapi("Credits", { example: CREDITS_EXAMPLE });

export const IsoTime = z.string().openapi({ format: "date-time" });

export const KeyRecordSchema = z
  .object({
    id: z.string().openapi({ example: "key_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
    name: z.string(),
    ownerId: z.string(),
    environment: z.enum(["live", "test"]),
    start: z.string().nullable().openapi({
      example: "kg_live_a1B2",
      description: "the key's first characters, for display; null for a key imported by its hash alone (keygate never saw it)",
    }),
    scopes: z.array(z.string()),
    metadata: z.record(z.string(), z.unknown()),
    allowedIps: z.array(z.string()),
    ratelimits: z.array(RateLimitSchema),
    credits: CreditsRecordSchema.nullable(),
    expiresAt: IsoTime.nullable(),
    enabled: z.boolean(),
    revokedAt: IsoTime.nullable(),
    rotatedFrom: z.string().nullable(),
    suspendedUntil: IsoTime.nullable().openapi({
      description: "until when the abuse rule (ABUSE_POLICY) suspended the key: every request is 429 KEY_SUSPENDED until then",
    }),
    imported: z.boolean().openapi({ description: "true for a key that came in through POST /keys/import" }),
    lastUsedAt: IsoTime.nullable(),
    usageCount: z.number().int(),
    version: z.number().int(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  })
  .openapi("KeyRecord");

/** A rate limit and where its window stands (one object: RateLimit itself forbids extra fields). */
export const LimitStateSchema = z
  .object({
    ...RateLimitSchema.shape,
    remaining: z.number().int(),
    reset: z.number().int().openapi({ description: "seconds until the window resets" }),
  })
  .openapi("RateLimitState");

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

export const KeyIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "key_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
});

export const PageSize = z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.pageSize);
export const Cursor = z.string().max(512).optional();

