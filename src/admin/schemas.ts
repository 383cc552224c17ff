import { z } from "@hono/zod-openapi";
import { PREFIX_PATTERN } from "../keys/format";
import { HASH_PATTERN, IMPORTED_KEY_LENGTH } from "../keys/imported";
import { VERIFY_CODES } from "../keys/verify";
import type { ProblemCode } from "../errors";
import {
  AllowedIps,
  AS_GIVEN,
  CREDITS_EXAMPLE,
  Cursor,
  IsoTime,
  jsonSchema,
  KeyRecordSchema,
  LIMITS,
  LimitStateSchema,
  Name,
  OwnerId,
  PageSize,
  positiveInt,
  RateLimitSchema,
  RefillSchema,
  Scopes,
} from "../api/schemas";

export { AS_GIVEN, KeyIdParam, KeyRecordSchema, LIMITS, ProblemSchema, RateLimitSchema } from "../api/schemas";

/** Every verdict but VALID is a code the gateway answers with. */
VERIFY_CODES satisfies readonly ("VALID" | ProblemCode)[];

export const Metadata = z
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

export const RateLimits = z
  .array(RateLimitSchema)
  .max(LIMITS.ratelimits)
  .refine((list) => new Set(list.map((r) => r.name)).size === list.length, "rate limit names must be unique")
  .openapi({ uniqueItems: true, description: `0-${LIMITS.ratelimits} limits, each with a name no other limit of the key has.` });

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
export const CreditsPatchSchema = z
  .object({
    remaining: z.number().int().min(0).max(LIMITS.maxCredits),
    refill: RefillSchema.nullable()
      .optional()
      .openapi({ description: "left out: the key keeps the refill it has; null: no refill from now on" }),
  })
  .strict()
  .openapi({ description: "sets the live balance; `refill` left out keeps the current refill", example: CREDITS_EXAMPLE });

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
/** The fields of a create, shared by POST /keys and each item of POST /keys/import. */
const createKeyFields = {
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
};

const oneExpiry = {
  check: (b: { expiresAt?: number | null; expiresIn?: number }) => b.expiresAt == null || b.expiresIn === undefined,
  message: { message: "give expiresAt or expiresIn, not both", path: ["expiresIn"] },
};

const prefixOfItsEnvironment = {
  check: (b: { prefix?: string; environment: "live" | "test" }) => b.prefix === undefined || !namesOtherEnvironment(b.prefix, b.environment),
  message: { message: "names the other environment: a live key's prefix may not end in _test, a test key's not in _live", path: ["prefix"] },
};

export const CreateKeyBody = z
  .object(createKeyFields)
  .strict()
  .refine(oneExpiry.check, oneExpiry.message)
  .refine(prefixOfItsEnvironment.check, prefixOfItsEnvironment.message)
  .openapi({ description: AS_GIVEN, ...CREATE_RULES });

/** Keys per POST /keys/import (DESIGN.md, "Importing keys"). */
export const IMPORT_MAX_KEYS = 1000;

/**
 * One item of an import: the fields of a create, and exactly one of `key` and `hash`. Each item
 * is validated on its own: one that fails is answered `invalid`, the others still count.
 */
export const ImportKeyItem = z
  .object({
    ...createKeyFields,
    prefix: createKeyFields.prefix.openapi({
      description:
        "For a key in keygate's format, its own prefix (which may be left out); otherwise the prefix of the keys a rotation " +
        "issues in its place (default kg_live or kg_test).",
    }),
    key: z.string().min(1).max(1024).optional().openapi({
      description:
        "The key itself, hashed on arrival and never stored: keygate's format (its checksum is checked), or " +
        `${IMPORTED_KEY_LENGTH.min}-${IMPORTED_KEY_LENGTH.max} printable ASCII characters starting with a prefix in IMPORTED_KEY_PREFIXES. ` +
        "Its first characters become `start`.",
      example: "sk_live_51HbXs2eZvKYlo2C0a9sDf8gH",
    }),
    hash: z
      .string()
      .regex(HASH_PATTERN, 'must be "sha256:" and 64 hex digits, or "sha256-base64:" and the base64 of the 32 bytes')
      .optional()
      .openapi({
        description:
          "The SHA-256 of the whole key, when the plaintext is not at hand: `sha256:<64 hex>` or `sha256-base64:<base64>`. " +
          "The record's `start` is then null. The key must still be one the gateway accepts: keygate's format, or a prefix in IMPORTED_KEY_PREFIXES.",
        example: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      }),
  })
  .strict()
  .refine(oneExpiry.check, oneExpiry.message)
  .refine(prefixOfItsEnvironment.check, prefixOfItsEnvironment.message)
  .refine((b) => b.key !== undefined || b.hash !== undefined, { message: "give key (the key itself) or hash (its SHA-256)", path: ["key"] })
  .refine((b) => b.key === undefined || b.hash === undefined, { message: "give key or hash, not both", path: ["hash"] })
  .openapi({
    description: `${AS_GIVEN} Exactly one of \`key\` and \`hash\`.`,
    ...CREATE_RULES,
    // exactly one of key and hash: at least one, and not both
    ...jsonSchema({
      allOf: [
        { anyOf: [{ type: "object", required: ["key"], properties: { key: {} } }, { type: "object", required: ["hash"], properties: { hash: {} } }] },
        { not: { type: "object", required: ["key", "hash"], properties: { key: {}, hash: {} } } },
      ],
    }),
  });

const dryRun = z.boolean().default(false).openapi({ description: "decide every item as the import would, and write nothing" });

/** The body as the document describes it: each item in full. */
export const ImportKeysBody = z
  .object({ dryRun, keys: z.array(ImportKeyItem).max(IMPORT_MAX_KEYS).openapi({ description: `At most ${IMPORT_MAX_KEYS} items (400 otherwise).` }) })
  .strict()
  .openapi({ description: AS_GIVEN });

/** The body as it is validated before its items: each item is then validated on its own. */
export const ImportKeysEnvelope = z
  .object({
    dryRun,
    keys: z.array(z.unknown()).max(IMPORT_MAX_KEYS, `at most ${IMPORT_MAX_KEYS} keys per call: send the rest in further calls`),
  })
  .strict();

export const ImportProblemSchema = z
  .object({
    code: z.string().openapi({ example: "SCOPE_NOT_ALLOWED" }),
    title: z.string(),
    detail: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("ImportProblem", { description: "Why an item was not imported, as a problem would state it; `issues` paths are within the item." });

export const ImportResultsSchema = z
  .object({
    results: z.array(
      z
        .object({
          index: z.number().int().openapi({ description: "the item's position in `keys`, from 0" }),
          status: z.enum(["created", "exists", "invalid"]),
          id: z.string().optional().openapi({
            description: "created: the new key (absent in a dry run); exists: the key that holds the same hash",
          }),
          problem: ImportProblemSchema.optional().openapi({ description: "invalid: why" }),
        })
        .openapi("ImportResult"),
    ),
  })
  .openapi("ImportResults");

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

export const CreatedKeySchema = KeyRecordSchema.extend({
  key: z.string().openapi({ description: "the key itself: shown this once, never again" }),
}).openapi("CreatedKey");

export const KeyListSchema = z
  .object({ data: z.array(KeyRecordSchema), nextCursor: z.string().nullable() })
  .openapi("KeyList");

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
        '"root" for ADMIN_TOKEN, an admin key\'s id, "user:<email>" for an operator\'s identity, "owner:<ownerId>" for a ' +
        'key holder in the portal, "keygate" for what keygate did by itself (a suspension, a disabled webhook endpoint), or ' +
        '"github-secret-scanning" for a leak GitHub reported',
    }),
    action: z.string().openapi({ example: "key.update" }),
    targetId: z.string(),
    requestId: z.string(),
    clientIp: z.string().nullable(),
    changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
    via: z
      .enum(["portal"])
      .optional()
      .openapi({ description: "where the change came from, when not the admin API: \"portal\" for a key holder's change in the portal" }),
  })
  .openapi("AuditEntry");

export const AuditListSchema = z
  .object({ data: z.array(AuditEntrySchema), nextCursor: z.string().nullable() })
  .openapi("AuditList");

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
  actor: z
    .string()
    .min(1)
    .max(300)
    .optional()
    .openapi({ description: '"root", an admin key\'s id, "user:<email>" or "owner:<ownerId>"', example: "user:alice@example.com" }),
  action: z.string().min(1).max(64).optional(),
  limit: PageSize,
  cursor: Cursor,
});
