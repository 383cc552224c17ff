import { z } from "zod";
import { ProblemError } from "./errors";
import { canonicalPath } from "./http/paths";

/** Secrets are not in wrangler.toml, so `wrangler types` cannot see them. */
interface Secrets {
  ADMIN_TOKEN: string;
  ASSERTION_PRIVATE_KEY: string;
  ASSERTION_PUBLIC_KEYS?: string;
  ROUTES?: string;
  PUBLIC_URL?: string;
  STATE_TIMEOUT_MS?: string;
  LEASE_MS?: string;
  CHANGE_TIMEOUT_MS?: string;
  USAGE_FLUSH_MS?: string;
  CF_ACCOUNT_ID?: string;
  CF_API_TOKEN?: string;
  USAGE_SQL_URL?: string;
  PORTAL_OIDC?: string;
  ADMIN_OIDC?: string;
  ADMIN_ACCESS?: string;
  KEY_POLICY?: string;
  ABUSE_POLICY?: string;
  LEAK_ACTION?: string;
  IMPORTED_KEY_PREFIXES?: string;
  SECRET_SCANNING_KEYS_URL?: string;
  WEBHOOK_RETRY_SECONDS?: string;
  WEBHOOK_TIMEOUT_MS?: string;
}
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Cloudflare {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Env extends Secrets {}
  }
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Env extends Secrets {}
}

/**
 * USAGE_FLUSH_MS: how long after its first request an isolate's usage batch is written. The
 * longest allowed keeps the timer and every retry of a write within the 30 s that Workers give
 * `waitUntil` after a response, so a figure is at most 60 s late (src/analytics/limits.ts).
 */
export const USAGE_FLUSH_MS = { default: 10_000, max: 15_000 };

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform((url) => url.replace(/\/+$/, ""));

/**
 * The gateway's public origin: scheme, host and optional port, as `URL.origin` writes it (so
 * `https://API.example.com:443/` is `https://api.example.com`); a path, query, fragment or
 * credentials would make it something else than an origin.
 */
const PublicOrigin = z.string().transform((value, ctx) => {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // not a URL at all
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.pathname !== "/" || /[?#]/.test(value)) {
    ctx.addIssue({ code: "custom", message: 'must be an http(s) origin like "https://api.example.com", without a path, query or credentials' });
    return z.NEVER;
  }
  return { origin: url.origin, host: url.host, proto: url.protocol.slice(0, -1) };
});

const METHOD = /^(\*|[A-Z]+)$/;

/**
 * ABUSE_POLICY, and a route's own `abuse` (DESIGN.md, "Lifecycle rules"): a key refused
 * RATE_LIMITED more than `rateLimitedPerMinute` times within a minute is suspended for
 * `suspendSeconds`. The admission objects count; src/events/notice.ts holds the arithmetic.
 */
export const AbusePolicySchema = z
  .object({
    rateLimitedPerMinute: z.number().int().min(1).max(1_000_000),
    suspendSeconds: z.number().int().min(1).max(30 * 86_400),
  })
  .strict();

export type AbusePolicy = z.infer<typeof AbusePolicySchema>;

/** One environment's expiry rule (KEY_POLICY): the longest lifetime, and whether a key must expire. */
const ExpiryRuleSchema = z
  .object({
    maxLifetimeDays: z.number().int().min(1).max(3650).optional(),
    requireExpiry: z.boolean().default(false),
  })
  .strict()
  .refine((rule) => !rule.requireExpiry || rule.maxLifetimeDays !== undefined, {
    message: "requireExpiry needs maxLifetimeDays: the lifetime a key created or rotated without an expiry gets",
    path: ["maxLifetimeDays"],
  });

export type ExpiryRule = z.infer<typeof ExpiryRuleSchema>;

const KeyPolicySchema = z.object({ live: ExpiryRuleSchema.optional(), test: ExpiryRuleSchema.optional() }).strict();

export type KeyPolicy = z.infer<typeof KeyPolicySchema>;

/** What a leak reported by GitHub's secret scanning does to the key (DESIGN.md, "Lifecycle rules"). */
export const LEAK_ACTIONS = ["revoke", "disable", "notify"] as const;
export type LeakAction = (typeof LEAK_ACTIONS)[number];

/** Standard Webhooks' retry schedule as DESIGN.md gives it: seconds before each retry. */
export const WEBHOOK_RETRY_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/**
 * IMPORTED_KEY_PREFIXES (DESIGN.md, "Key format"): presented keys that start with one of these
 * skip keygate's checksum. A prefix that keygate's own default prefixes start with, or that
 * starts with one of them, would take the checksum away from keygate's own keys, so it is refused.
 */
const ImportedPrefix = z
  .string()
  .regex(/^[\x21-\x7e]{2,32}$/, "must be 2-32 printable ASCII characters without spaces")
  .refine(
    (prefix) => !["kg_live_", "kg_test_"].some((own) => own.startsWith(prefix) || prefix.startsWith(own)),
    "must not cover keygate's own prefixes (kg_live_, kg_test_): those keys keep their checksum check",
  );

const ImportedPrefixes = z
  .array(ImportedPrefix)
  .max(20)
  .refine((list) => new Set(list).size === list.length, "must not list a prefix twice");

/** A browser origin: scheme, host and optional port, nothing else. */
const BrowserOrigin = z
  .string()
  .regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be an origin like "https://app.example.com", or "*"')
  .transform((origin) => origin.toLowerCase());

const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, "must be an HTTP header name");

const CorsSchema = z
  .object({
    /** origins allowed to call the route from a browser; "*" allows any (echoed back, never sent as `*`) */
    origins: z.array(z.union([z.literal("*"), BrowserOrigin])).min(1),
    /** request headers a browser may send besides the key's and Content-Type */
    headers: z.array(HeaderName).default([]),
    /** seconds a browser may cache a preflight answer */
    maxAge: z.number().int().min(0).max(86_400).default(600),
  })
  .strict();

export const RouteSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, _ . or -"),
    prefix: z
      .string()
      .regex(/^\/[^?#\s]*$/, "must start with / and hold no query")
      .transform((prefix, ctx) => {
        const canonical = canonicalPath(prefix);
        if (canonical === null) {
          ctx.addIssue({ code: "custom", message: "must be a path without ;, \\, encoded / or %, broken % encodings, or segments ending in . or a space" });
          return z.NEVER;
        }
        return canonical.length > 1 ? canonical.replace(/\/+$/, "") : canonical;
      }),
    upstream: httpUrl,
    scopes: z
      .record(z.string().regex(METHOD, "keys must be an upper-case HTTP method or *"), z.array(z.string().min(1)))
      .optional(),
    cost: z.number().int().min(0).max(1_000_000).default(1),
    allowQueryKey: z.boolean().default(false),
    timeoutMs: z.number().int().min(1).max(300_000).default(30_000),
    stripPrefix: z.boolean().default(false),
    /** When KeyState cannot answer: false (default) answers 503, true lets the request through unmetered. */
    failOpen: z.boolean().default(false),
    /** Prefixes match without regard to ASCII case unless this is true. */
    caseSensitive: z.boolean().default(false),
    cors: CorsSchema.optional(),
    /** the route's own abuse rule instead of ABUSE_POLICY; null turns it off on this route */
    abuse: AbusePolicySchema.nullable().optional(),
  })
  .strict()
  .transform((route) => ({ ...route, matchPrefix: route.caseSensitive ? route.prefix : route.prefix.toLowerCase() }));

export type Route = z.infer<typeof RouteSchema>;

/** A P-256 coordinate or private scalar: 32 bytes, base64url without padding. */
const Coordinate = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be 32 bytes of base64url");

const EcPublicJwk = z
  .object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: Coordinate,
    y: Coordinate,
    kid: z.string().min(1).max(200).optional(),
  })
  .loose()
  .refine((jwk) => !("d" in jwk), "must hold public keys only (no d)");

const EcPrivateJwk = z
  .object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: Coordinate,
    y: Coordinate,
    d: Coordinate,
    kid: z.string().min(1).max(200).optional(),
  })
  .loose();

const jsonText = <T extends z.ZodType>(schema: T, what: string) =>
  z.preprocess((value, ctx) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `must be ${what} (JSON)` });
      return z.NEVER;
    }
  }, schema);

/** A host that is this machine: http is allowed there (local development and tests), https everywhere else. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
export const isLoopback = (hostname: string): boolean => LOOPBACK_HOSTS.has(hostname.toLowerCase());

/** An https URL, or http on a loopback host; where keygate fetches signing keys from. */
const KeysUrl = z.string().transform((value, ctx) => {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // not a URL
  }
  if (!url || url.username || url.password || !(url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname)))) {
    ctx.addIssue({ code: "custom", message: "must be an https URL (http only on 127.0.0.1, localhost or [::1])" });
    return z.NEVER;
  }
  return url.href;
});

export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** `alice@example.com` or `*@example.com`, kept in lower case: emails are compared without regard to case. */
const RolePattern = z
  .string()
  .regex(/^(\*|[^\s@*]+)@[^\s@*]+$/, 'must be an email address or "*@domain"')
  .transform((pattern) => pattern.toLowerCase());

const Roles = z
  .record(RolePattern, z.enum(ROLES, { error: 'must be "viewer", "operator" or "admin"' }))
  .refine((roles) => Object.keys(roles).length > 0, "must map at least one email or *@domain to a role");

const Audience = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const PortalOidc = z
  .object({
    issuer: z.string().min(1),
    jwksUrl: KeysUrl,
    audience: Audience,
    ownerClaim: z.string().min(1).max(200).default("sub"),
  })
  .strict();

const AdminOidc = z
  .object({
    issuer: z.string().min(1),
    jwksUrl: KeysUrl,
    audience: Audience,
    emailClaim: z.string().min(1).max(200).default("email"),
    roles: Roles,
  })
  .strict();

/**
 * Cloudflare Access's team domain: `myteam.cloudflareaccess.com` (or with `https://`). Tokens
 * are issued by `https://<teamDomain>` and signed by the keys at
 * `https://<teamDomain>/cdn-cgi/access/certs`. An `http://` origin on a loopback host stands in
 * for Access in local runs and tests (docs/identity.md).
 */
const TeamDomain = z.string().transform((value, ctx) => {
  const given = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let url: URL | null = null;
  try {
    url = new URL(given);
  } catch {
    // not a host
  }
  const ok =
    url &&
    !url.username &&
    !url.password &&
    url.pathname === "/" &&
    !url.search &&
    !url.hash &&
    (url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname)));
  if (!url || !ok) {
    ctx.addIssue({ code: "custom", message: 'must be a host like "myteam.cloudflareaccess.com" (http://127.0.0.1:<port> only for local stand-ins)' });
    return z.NEVER;
  }
  return url.origin;
});

const AdminAccess = z
  .object({
    teamDomain: TeamDomain,
    aud: Audience,
    roles: Roles,
  })
  .strict();

/** A path keygate serves itself: `/portal`, `/admin`. */
const OWN_PATH = /^\/[A-Za-z0-9_\-/]*[A-Za-z0-9_-]$/;
const OwnPath = z.string().regex(OWN_PATH, "must be a path like /admin");

const ConfigSchema = z.object({
  UPSTREAM_URL: httpUrl,
  ROUTES: jsonText(z.array(RouteSchema).min(1), "a JSON array of routes").optional(),
  ADMIN_PATH: OwnPath.default("/admin"),
  /** "" turns the portal off (parseConfig keeps that one empty string) */
  PORTAL_PATH: z
    .string()
    .refine((path) => path === "" || OWN_PATH.test(path), "must be a path like /portal, or empty to turn the portal off")
    .default("/portal"),
  PORTAL_TITLE: z
    .string()
    .max(100)
    .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
    .default("API keys"),
  PORTAL_OIDC: jsonText(PortalOidc, "a JSON object { issuer, jwksUrl, audience, ownerClaim? }").optional(),
  ADMIN_OIDC: jsonText(AdminOidc, "a JSON object { issuer, jwksUrl, audience, emailClaim?, roles }").optional(),
  ADMIN_ACCESS: jsonText(AdminAccess, "a JSON object { teamDomain, aud, roles }").optional(),
  MAX_KEYS_PER_OWNER: z.coerce.number().int().min(1).default(100),
  PUBLIC_URL: PublicOrigin.optional(),
  STATE_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(5_000),
  LEASE_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  CHANGE_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(60_000).default(10_000),
  USAGE_FLUSH_MS: z.coerce.number().int().min(1).max(USAGE_FLUSH_MS.max).default(USAGE_FLUSH_MS.default),
  ADMIN_TOKEN: z.string({ error: "is not set" }).min(1, "must not be empty"),
  ASSERTION_PRIVATE_KEY: jsonText(EcPrivateJwk, "an ES256 private JWK"),
  ASSERTION_PUBLIC_KEYS: jsonText(z.object({ keys: z.array(EcPublicJwk).max(10) }), "a JWK Set").optional(),
  CF_ACCOUNT_ID: z.string().regex(/^[0-9a-f]{32}$/, "must be a 32-character account id").optional(),
  CF_API_TOKEN: z.string().min(1).optional(),
  /** where usage queries go; defaults to the Analytics Engine SQL API of CF_ACCOUNT_ID */
  USAGE_SQL_URL: httpUrl.optional(),
  KEY_POLICY: jsonText(KeyPolicySchema, 'an object like {"live":{"maxLifetimeDays":90,"requireExpiry":true}}').optional(),
  ABUSE_POLICY: jsonText(AbusePolicySchema, 'an object like {"rateLimitedPerMinute":600,"suspendSeconds":300}').optional(),
  IMPORTED_KEY_PREFIXES: jsonText(ImportedPrefixes, 'a JSON array of prefixes like ["sk_live_","bs_"]').optional(),
  LEAK_ACTION: z.enum(LEAK_ACTIONS, { error: 'must be "revoke", "disable" or "notify"' }).default("revoke"),
  /** where GitHub's secret-scanning public keys are published */
  SECRET_SCANNING_KEYS_URL: httpUrl.default("https://api.github.com/meta/public_keys/secret_scanning"),
  /** seconds before each retry of a failed webhook delivery (tests shorten them) */
  WEBHOOK_RETRY_SECONDS: jsonText(z.array(z.number().int().min(0).max(43_200)).min(1).max(20), "a JSON array of seconds").optional(),
  /** how long one delivery attempt may take */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(15_000),
});

export type PortalOidcConfig = z.infer<typeof PortalOidc>;
export type AdminOidcConfig = z.infer<typeof AdminOidc>;
export type AdminAccessConfig = z.infer<typeof AdminAccess>;

export interface Config {
  upstreamUrl: string;
  routes: Route[];
  adminPath: string;
  /** where key holders manage their own keys; null: the portal is off and the path is consumer traffic */
  portalPath: string | null;
  /** the operator's product, as the portal's pages name it */
  portalTitle: string;
  /** bearer tokens from the operator's identity provider that act as an owner in the portal */
  portalOidc: PortalOidcConfig | null;
  /** operators' bearer tokens from their organisation's identity provider */
  adminOidc: AdminOidcConfig | null;
  /** operators signed in by Cloudflare Access in front of the admin path */
  adminAccess: AdminAccessConfig | null;
  maxKeysPerOwner: number;
  /**
   * PUBLIC_URL, the gateway's public origin (its host and scheme apart): the assertion's `iss`
   * and `X-Forwarded-Host`/`-Proto`. null: the request's own origin serves.
   */
  publicUrl: { origin: string; host: string; proto: string } | null;
  /** how long the gateway waits for KeyState before treating it as down */
  stateTimeoutMs: number;
  /** how long a regional object may admit on what it knows without hearing from the lineage's home */
  leaseMs: number;
  /** how long an admin change may take to reach D1; a batch arriving later writes nothing */
  changeTimeoutMs: number;
  /** how long after its first request an isolate's usage batch is written to D1 */
  usageFlushMs: number;
  adminToken: string;
  assertionJwk: z.infer<typeof EcPrivateJwk>;
  /** public keys the JWKS publishes beside the signing key's: keys that signed before or will sign next */
  assertionPublicKeys: z.infer<typeof EcPublicJwk>[];
  /** null when usage queries are not configured (local development) */
  usageApi: { url: string; token: string } | null;
  /** KEY_POLICY: expiry rules per environment ({} when unset) */
  keyPolicy: KeyPolicy;
  /** ABUSE_POLICY; null: off (a route's own `abuse` still applies) */
  abusePolicy: AbusePolicy | null;
  leakAction: LeakAction;
  /** IMPORTED_KEY_PREFIXES: presented keys starting with one of these skip the checksum ([] when unset) */
  importedKeyPrefixes: readonly string[];
  secretScanningKeysUrl: string;
  /** seconds before each retry of a failed webhook delivery */
  webhookRetrySeconds: number[];
  webhookTimeoutMs: number;
}

const parsed = new WeakMap<object, Config | ProblemError>();

/** Parses the environment once per isolate (per env object); a bad config is a 500 naming the field. */
export function getConfig(env: Env): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env);
    parsed.set(env, config);
  }
  if (config instanceof ProblemError) throw config;
  return config;
}

function parseConfig(env: Env): Config | ProblemError {
  const raw: Record<string, unknown> = Object.fromEntries(
    Object.entries(env).map(([name, value]) => [name, value === "" ? undefined : value]),
  );
  // The one var whose empty value means something: PORTAL_PATH = "" turns the portal off.
  if ((env as { PORTAL_PATH?: unknown }).PORTAL_PATH === "") raw.PORTAL_PATH = "";
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const detail = result.error.issues
      .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    return new ProblemError("CONFIG_INVALID", `The gateway configuration is invalid: ${detail}`);
  }
  const c = result.data;
  const portalPath = c.PORTAL_PATH === "" ? null : c.PORTAL_PATH;
  const clash = portalPath && pathsClash(portalPath, c.ADMIN_PATH);
  if (clash) return new ProblemError("CONFIG_INVALID", `The gateway configuration is invalid: PORTAL_PATH: ${clash}`);
  return {
    upstreamUrl: c.UPSTREAM_URL,
    routes: c.ROUTES ?? [RouteSchema.parse({ name: "default", prefix: "/", upstream: c.UPSTREAM_URL })],
    adminPath: c.ADMIN_PATH,
    portalPath,
    portalTitle: c.PORTAL_TITLE.trim() || "API keys",
    portalOidc: c.PORTAL_OIDC ?? null,
    adminOidc: c.ADMIN_OIDC ?? null,
    adminAccess: c.ADMIN_ACCESS ?? null,
    maxKeysPerOwner: c.MAX_KEYS_PER_OWNER,
    publicUrl: c.PUBLIC_URL ?? null,
    stateTimeoutMs: c.STATE_TIMEOUT_MS,
    leaseMs: c.LEASE_MS,
    changeTimeoutMs: c.CHANGE_TIMEOUT_MS,
    usageFlushMs: c.USAGE_FLUSH_MS,
    adminToken: c.ADMIN_TOKEN,
    assertionJwk: c.ASSERTION_PRIVATE_KEY,
    assertionPublicKeys: c.ASSERTION_PUBLIC_KEYS?.keys ?? [],
    usageApi: usageApi(c.USAGE_SQL_URL, c.CF_ACCOUNT_ID, c.CF_API_TOKEN),
    keyPolicy: c.KEY_POLICY ?? {},
    abusePolicy: c.ABUSE_POLICY ?? null,
    leakAction: c.LEAK_ACTION,
    importedKeyPrefixes: c.IMPORTED_KEY_PREFIXES ?? [],
    secretScanningKeysUrl: c.SECRET_SCANNING_KEYS_URL,
    webhookRetrySeconds: c.WEBHOOK_RETRY_SECONDS ?? WEBHOOK_RETRY_SECONDS,
    webhookTimeoutMs: c.WEBHOOK_TIMEOUT_MS,
  };
}

/** Why the portal cannot live at `portal`: it would share paths with the admin API or keygate's own. */
function pathsClash(portal: string, admin: string): string | null {
  const under = (a: string, b: string) => a.toLowerCase() === b.toLowerCase() || a.toLowerCase().startsWith(`${b.toLowerCase()}/`);
  if (under(portal, admin) || under(admin, portal)) return `must not be ADMIN_PATH (${admin}), inside it, or around it`;
  if (under(portal, "/.well-known") || under(portal, "/healthz")) return "must not be /.well-known or /healthz, which keygate serves itself";
  return null;
}

function usageApi(url: string | undefined, accountId: string | undefined, token: string | undefined) {
  const target =
    url ?? (accountId && `https://api.cloudflare.com/client/v4/accounts/${accountId}/analytics_engine/sql`);
  return target && token ? { url: target, token } : null;
}
