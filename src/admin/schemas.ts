import { z } from "@hono/zod-openapi";
import { PREFIX_PATTERN } from "../keys/format";
import { SCOPE_PATTERN } from "../keys/scopes";
import { parseRange, RANGE_PATTERN } from "../keys/ip";
import { VERIFY_CODES } from "../keys/verify";
import type { ProblemCode } from "../errors";

/** Every verdict but VALID is a code the gateway answers with. */
VERIFY_CODES satisfies readonly ("VALID" | ProblemCode)[];

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
const jsonSchema = (keywords: Record<string, unknown>): object => keywords;

/** What every admin body must be besides its fields' rules (src/admin/body.ts, docs/behaviour.md). */
export const AS_GIVEN =
  "Every string and key in it, at any depth, is well-formed Unicode (no lone surrogate), no key is `__proto__`, " +
  "and no number is too large for JSON: keygate stores what was sent or refuses it (400 VALIDATION_FAILED naming the place).";

const Name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
  .openapi({ example: "Acme production", description: "1-100 characters, no control characters (U+0000-U+001F, U+007F)" });

/** Sent to the origin in a header, so printable ASCII only. */
const OwnerId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/, "must be printable ASCII without leading or trailing spaces")
  .openapi({ example: "acct_42" });

const Scopes = z
  .array(z.string().regex(SCOPE_PATTERN, 'must be "<resource>:<action>", "<resource>:*", "*:<action>" or "*"'))
  .max(LIMITS.scopes)
  .openapi({ example: ["posts:read", "posts:write"] });

const Metadata = z
  .record(z.string(), z.unknown())
  .refine(
    (m) => new TextEncoder().encode(JSON.stringify(m)).length <= LIMITS.metadataBytes,
    `must serialise to at most ${LIMITS.metadataBytes} bytes of JSON`,
  )
  .openapi({
    example: { plan: "pro" },
    ...jsonSchema({ propertyNames: { not: { const: "__proto__" } } }),
    description:
      `Forwarded to the origin. At most ${LIMITS.metadataBytes} bytes as compact JSON (UTF-8), and no \`__proto__\` key ` +
      "at any depth (400 VALIDATION_FAILED otherwise).",
  });

const AllowedIps = z
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

const positiveInt = (max: number) => z.number().int().min(1).max(max);

export const RateLimitSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, "must be 1-32 letters, digits, _ . or -"),
    limit: positiveInt(1_000_000_000),
    windowSeconds: positiveInt(LIMITS.maxWindowSeconds),
  })
  .strict()
  .openapi("RateLimit", { example: { name: "minute", limit: 100, windowSeconds: 60 } });

const RateLimits = z
  .array(RateLimitSchema)
  .max(LIMITS.ratelimits)
  .refine((list) => new Set(list.map((r) => r.name)).size === list.length, "rate limit names must be unique")
  .openapi({ uniqueItems: true, description: `0-${LIMITS.ratelimits} limits, each with a name no other limit of the key has.` });

const RefillSchema = z
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

const CREDITS_EXAMPLE = { remaining: 1000, refill: { amount: 1000, interval: "monthly", day: 1 } } as const;

/** Credits as a client sends them: `refill` may be left out (no refill). */
export const CreditsSchema = z
  .object({
    remaining: z.number().int().min(0).max(LIMITS.maxCredits),
    refill: RefillSchema.nullable().default(null),
  })
  .strict()
  .openapi({ example: CREDITS_EXAMPLE });

/**
 * Credits as a PATCH sends them: `refill` left out keeps the lineage's refill, `null` removes it
 * (DESIGN.md, "Key record"); the whole of `credits: null` removes both.
 */
const CreditsPatchSchema = z
  .object({
    remaining: z.number().int().min(0).max(LIMITS.maxCredits),
    refill: RefillSchema.nullable()
      .optional()
      .openapi({ description: "left out: the key keeps the refill it has; null: no refill from now on" }),
  })
  .strict()
  .openapi({ description: "sets the live balance; `refill` left out keeps the current refill", example: CREDITS_EXAMPLE });

/** Credits as keygate answers them: every field present. */
const CreditsRecordSchema = z
  .object({ remaining: z.number().int(), refill: RefillSchema.nullable() })
  .openapi("Credits", { example: CREDITS_EXAMPLE });

/** `kg_test` on a live key, or `acme_live` on a test key: secret scanners and people would misread it. */
const namesOtherEnvironment = (prefix: string, environment: "live" | "test") =>
  prefix.endsWith(environment === "live" ? "_test" : "_live");

const FutureTime = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .refine((ms) => ms > Date.now(), "must be in the future");

/** Rules of a create body that span fields, stated in the schema language. */
const CREATE_RULES = jsonSchema({
  // expiresAt (a time, not null) and expiresIn together
  not: {
    type: "object",
    required: ["expiresAt", "expiresIn"],
    properties: { expiresAt: { type: "string" }, expiresIn: {} },
  },
  // a prefix ending in _test needs environment "test"; one ending in _live may not have it
  if: { type: "object", required: ["prefix"], properties: { prefix: { type: "string", pattern: "_test$" } } },
  then: { type: "object", required: ["environment"], properties: { environment: { const: "test" } } },
  else: {
    not: {
      type: "object",
      required: ["prefix", "environment"],
      properties: { prefix: { type: "string", pattern: "_live$" }, environment: { const: "test" } },
    },
  },
});

/*
 * Request bodies are left unnamed, so the document describes them inline in their operations:
 * a named component's `default` reads as "always present" to client generators such as
 * openapi-typescript, which would then demand every defaulted field.
 */
export const CreateKeyBody = z
  .object({
    name: Name,
    ownerId: OwnerId,
    environment: z.enum(["live", "test"]).default("live"),
    prefix: z
      .string()
      .regex(PREFIX_PATTERN, "must match ^[a-z][a-z0-9_]{1,19}$")
      .optional()
      .openapi({
        description: "Defaults to kg_live or kg_test. A live key's prefix may not end in `_test`, a test key's not in `_live`.",
      }),
    scopes: Scopes.default([]),
    metadata: Metadata.default({}),
    allowedIps: AllowedIps.default([]),
    ratelimits: RateLimits.default([]),
    credits: CreditsSchema.nullable().default(null),
    expiresAt: FutureTime.nullable()
      .optional()
      .openapi({ description: "An ISO 8601 time with an offset, in the future (400 otherwise). Not together with `expiresIn`." }),
    expiresIn: positiveInt(LIMITS.maxExpiresInSeconds)
      .optional()
      .openapi({ description: "Seconds from now. Not together with a non-null `expiresAt`." }),
    enabled: z.boolean().default(true),
  })
  .strict()
  .refine((b) => b.expiresAt == null || b.expiresIn === undefined, {
    message: "give expiresAt or expiresIn, not both",
    path: ["expiresIn"],
  })
  .refine((b) => b.prefix === undefined || !namesOtherEnvironment(b.prefix, b.environment), {
    message: "names the other environment: a live key's prefix may not end in _test, a test key's not in _live",
    path: ["prefix"],
  })
  .openapi({ description: AS_GIVEN, ...CREATE_RULES });

export const UpdateKeyBody = z
  .object({
    name: Name.optional(),
    scopes: Scopes.optional(),
    metadata: Metadata.optional(),
    allowedIps: AllowedIps.optional(),
    ratelimits: RateLimits.optional(),
    credits: CreditsPatchSchema.nullable().optional(),
    expiresAt: FutureTime.nullable()
      .optional()
      .openapi({
        description:
          "An ISO 8601 time with an offset, in the future (400 otherwise); null removes the expiry. A key a rotation " +
          "retired keeps at most the expiry it has: a later one, or null, is 409 CONFLICT naming its successor.",
      }),
    enabled: z.boolean().optional(),
    suspendedUntil: z
      .null()
      .optional()
      .openapi({ description: "null lifts a suspension the abuse rule (ABUSE_POLICY) set; only the abuse rule sets one" }),
  })
  .strict()
  .openapi({ description: AS_GIVEN });

export const RotateKeyBody = z
  .object({
    gracePeriodSeconds: z.number().int().min(0).max(LIMITS.maxGraceSeconds).default(0),
  })
  .strict();

export const VerifyKeyBody = z
  .object({
    key: z.string().min(1).max(1024),
    scopes: z.array(z.string().min(1).max(200)).max(LIMITS.scopes).optional(),
  })
  .strict();

const IsoTime = z.string().openapi({ format: "date-time" });

export const KeyRecordSchema = z
  .object({
    id: z.string().openapi({ example: "key_01JD6T3W4Y8N2B5C7E9G1H3K5M" }),
    name: z.string(),
    ownerId: z.string(),
    environment: z.enum(["live", "test"]),
    start: z.string().openapi({ example: "kg_live_a1B2" }),
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
    lastUsedAt: IsoTime.nullable(),
    usageCount: z.number().int(),
    version: z.number().int(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  })
  .openapi("KeyRecord");

export const CreatedKeySchema = KeyRecordSchema.extend({
  key: z.string().openapi({ description: "the key itself: shown this once, never again" }),
}).openapi("CreatedKey");

export const KeyListSchema = z
  .object({ data: z.array(KeyRecordSchema), nextCursor: z.string().nullable() })
  .openapi("KeyList");

/** A rate limit and where its window stands (one object: RateLimit itself forbids extra fields). */
const LimitStateSchema = z
  .object({
    ...RateLimitSchema.shape,
    remaining: z.number().int(),
    reset: z.number().int().openapi({ description: "seconds until the window resets" }),
  })
  .openapi("RateLimitState");

export const VerifyResultSchema = z
  .object({
    valid: z.boolean(),
    code: z.enum(VERIFY_CODES),
    keyId: z.string().nullable(),
    ownerId: z.string().nullable(),
    scopes: z.array(z.string()).nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    ratelimits: z.array(LimitStateSchema).nullable(),
    credits: z
      .object({ remaining: z.number().int(), refill: RefillSchema.nullable(), refillIn: z.number().int().nullable() })
      .nullable(),
  })
  .openapi("VerifyResult");

export const AuditEntrySchema = z
  .object({
    id: z.string(),
    at: IsoTime,
    actor: z.string().openapi({
      description:
        '"root" for ADMIN_TOKEN, else the admin key\'s id; "keygate" for what keygate did by itself (a suspension, a disabled ' +
        'webhook endpoint), "github-secret-scanning" for a leak GitHub reported',
    }),
    action: z.string().openapi({ example: "key.update" }),
    targetId: z.string(),
    requestId: z.string(),
    clientIp: z.string().nullable(),
    changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
  })
  .openapi("AuditEntry");

export const AuditListSchema = z
  .object({ data: z.array(AuditEntrySchema), nextCursor: z.string().nullable() })
  .openapi("AuditList");

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

const PageSize = z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.pageSize);
const Cursor = z.string().max(512).optional();

export const ListKeysQuery = z.object({
  q: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: "keys whose name or ownerId contains this text (ASCII letters in any case)", example: "acme" }),
  ownerId: z.string().min(1).max(200).optional(),
  environment: z.enum(["live", "test"]).optional(),
  status: z.enum(["active", "revoked", "expired"]).optional(),
  limit: PageSize,
  cursor: Cursor,
});

export const ListAuditQuery = z.object({
  targetId: z.string().min(1).max(64).optional(),
  actor: z.string().min(1).max(64).optional(),
  action: z.string().min(1).max(64).optional(),
  limit: PageSize,
  cursor: Cursor,
});
