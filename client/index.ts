/**
 * A typed client for keygate's admin API, for the CLI (Node) and the dashboard (browser):
 * every path, parameter, body and answer comes from client/openapi.d.ts, which
 * `npm run client:generate` writes from the document the worker serves. No Node-only imports.
 */
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./openapi.d.ts";

type Schemas = components["schemas"];
export type KeyRecord = Schemas["KeyRecord"];
export type CreatedKey = Schemas["CreatedKey"];
export type KeyList = Schemas["KeyList"];
export type VerifyResult = Schemas["VerifyResult"];
export type AuditEntry = Schemas["AuditEntry"];
export type AuditList = Schemas["AuditList"];
export type KeyUsage = Schemas["KeyUsage"];
export type Usage = Schemas["Usage"];
export type UsageCounts = Schemas["UsageCounts"];
export type RequestEntry = Schemas["RequestLogEntry"];
export type Problem = Schemas["Problem"];
export type Whoami = Schemas["Whoami"];
export type RequestLog = Schemas["RequestLog"];
export type PortalLink = Schemas["PortalLink"];
export type Role = Whoami["role"];
export type Webhook = Schemas["Webhook"];
export type CreatedWebhook = Schemas["CreatedWebhook"];
export type RotatedWebhook = Schemas["RotatedWebhook"];
export type WebhookList = Schemas["WebhookList"];
export type DeliveryAttempt = Schemas["WebhookDeliveryAttempt"];
export type WebhookTestResult = Schemas["WebhookTestResult"];
export type SecurityEvent = Schemas["SecurityEvent"];
export type Owner = Schemas["Owner"];
export type OwnerListItem = Schemas["OwnerListItem"];
export type OwnerList = Schemas["OwnerList"];
export type OwnerUsage = Schemas["OwnerUsage"];
export type Plan = Schemas["Plan"];
export type PlanPreview = Schemas["PlanPreview"];
export type PlanChangeAccepted = Schemas["PlanChangeAccepted"];
export type RateLimit = Schemas["RateLimit"];
export type RateLimitState = Schemas["RateLimitState"];
export type ImportResults = Schemas["ImportResults"];
export type ImportResult = Schemas["ImportResult"];

type JsonBody<Op> = Op extends { requestBody?: { content: { "application/json": infer Body } } } ? Body : never;
type Query<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
export type CreateKeyInput = JsonBody<operations["createKey"]>;
export type UpdateKeyInput = JsonBody<operations["updateKey"]>;
export type RotateKeyInput = JsonBody<operations["rotateKey"]>;
export type VerifyKeyInput = JsonBody<operations["verifyKey"]>;
export type ImportKeysInput = JsonBody<operations["importKeys"]>;
export type ListKeysQuery = Query<operations["listKeys"]>;
export type ListAuditQuery = Query<operations["listAudit"]>;
export type KeyUsageQuery = Query<operations["getKeyUsage"]>;
export type UsageQuery = Query<operations["getUsage"]>;
export type KeyRequestsQuery = Query<operations["listKeyRequests"]>;
export type PortalLinkInput = JsonBody<operations["createPortalSession"]>;
export type CreateWebhookInput = JsonBody<operations["createWebhook"]>;
export type UpdateWebhookInput = JsonBody<operations["updateWebhook"]>;
export type ListWebhooksQuery = Query<operations["listWebhooks"]>;
export type DeliveriesQuery = Query<operations["listWebhookDeliveries"]>;
export type SecurityEventsQuery = Query<operations["listSecurityEvents"]>;
export type ListOwnersQuery = Query<operations["listOwners"]>;
export type OwnerUsageQuery = Query<operations["getOwnerUsage"]>;
export type PutOwnerInput = JsonBody<operations["putOwner"]>;
export type UpdateOwnerInput = JsonBody<operations["updateOwner"]>;
export type CreatePlanInput = JsonBody<operations["createPlan"]>;
export type UpdatePlanInput = JsonBody<operations["updatePlan"]>;

/**
 * What a plan change answered: 200, the plan, in force on the next request of every key it
 * touches; or 202, accepted, in force for every owner on the plan by `inForceBy`.
 */
export type PlanChange = { status: 200; plan: Plan } | { status: 202; accepted: PlanChangeAccepted };

/** keygate answered, and refused: the problem's fields, or what could be read of a non-problem answer. */
export class KeygateError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly code: string | null;
  readonly requestId: string | null;
  readonly issues: { path: string; message: string }[];

  constructor(status: number, problem: { title: string; detail: string; code?: string | null; requestId?: string | null; issues?: { path: string; message: string }[] }) {
    super(`${problem.title}: ${problem.detail}`);
    this.name = "KeygateError";
    this.status = status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.code = problem.code ?? null;
    this.requestId = problem.requestId ?? null;
    this.issues = problem.issues ?? [];
  }
}

/** No answer at all: nothing listens there, the name does not resolve, or the answer took too long. */
export class KeygateUnreachableError extends Error {
  readonly url: string;
  readonly reason: string;

  constructor(url: string, reason: string) {
    super(`cannot reach keygate at ${url}: ${reason}`);
    this.name = "KeygateUnreachableError";
    this.url = url;
    this.reason = reason;
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

function networkReason(err: unknown, timeoutMs: number): string {
  const error = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (error?.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
  const code = error?.cause?.code;
  return (code && NETWORK_REASONS[code]) ?? error?.cause?.message ?? error?.message ?? String(err);
}

const PROBLEM_TYPE = /^application\/problem\+json/i;
const JSON_TYPE = /^application\/(problem\+)?json/i;

/** The refusal as keygate stated it, or a plain description when the answer is not a problem. */
function refusal(response: Response, body: unknown): KeygateError {
  const problem = body as Partial<Problem> | undefined;
  if (PROBLEM_TYPE.test(response.headers.get("Content-Type") ?? "") && typeof problem?.title === "string") {
    return new KeygateError(response.status, {
      title: problem.title,
      detail: problem.detail ?? "",
      code: problem.code,
      requestId: problem.requestId ?? response.headers.get("X-Request-Id"),
      issues: problem.issues,
    });
  }
  return notKeygate(response);
}

const notKeygate = (response: Response) =>
  new KeygateError(response.status, {
    title: `Unexpected answer (HTTP ${response.status})`,
    detail: `${response.url} answered ${response.headers.get("Content-Type") ?? "without a Content-Type"}, not keygate's JSON; is this keygate's admin API?`,
    requestId: response.headers.get("X-Request-Id"),
  });

export interface KeygateClientOptions {
  /** the admin API's base, e.g. http://127.0.0.1:8787/admin */
  baseUrl: string;
  /**
   * ADMIN_TOKEN, an admin key or an operator's JWT; sent as a bearer token, never logged. Left
   * out behind Cloudflare Access, which vouches for the operator itself.
   */
  token?: string;
  /** how long one request may take (default 30 s) */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * The `fetch` the typed clients send through: a deadline, no answer as KeygateUnreachableError,
 * and any answer that is not keygate's JSON as a KeygateError.
 */
export function keygateFetch(baseUrl: string, timeoutMs = 30_000, baseFetch: typeof fetch = globalThis.fetch) {
  return async (request: Request): Promise<Response> => {
    let response: Response;
    try {
      response = await baseFetch(request, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new KeygateUnreachableError(baseUrl, networkReason(err, timeoutMs));
    }
    // keygate answers JSON or problem+json, whatever happens; anything else is someone else.
    if (response.status !== 204 && !JSON_TYPE.test(response.headers.get("Content-Type") ?? "")) throw notKeygate(response);
    return response;
  };
}

/** The answer's data, or a KeygateError for a refusal or an answer keygate would not give. */
export function answerOf(baseUrl: string) {
  return async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let result: { data?: T; error?: unknown; response: Response };
    try {
      result = await request;
    } catch (err) {
      if (err instanceof SyntaxError) {
        throw new KeygateError(0, { title: "Unexpected answer", detail: `${baseUrl} answered JSON that does not parse.` });
      }
      throw err;
    }
    const { data, error, response } = result;
    if (!response.ok) throw refusal(response, error);
    if (data === undefined && response.status !== 204) throw notKeygate(response);
    return data as T;
  };
}

export function createKeygateClient(options: KeygateClientOptions) {
  const api = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
    fetch: keygateFetch(options.baseUrl, options.timeoutMs, options.fetch),
  });
  const call = answerOf(options.baseUrl);

  const key = (id: string) => ({ path: { id } });
  return {
    keys: {
      create: (body: CreateKeyInput) => call(api.POST("/keys", { body })),
      list: (query: ListKeysQuery = {}) => call(api.GET("/keys", { params: { query } })),
      get: (id: string) => call(api.GET("/keys/{id}", { params: key(id) })),
      // openapi-fetch's Writable<> drops a property whose only type is null (`suspendedUntil: null`,
      // which lifts a suspension), so the body is handed over as the document types it.
      update: (id: string, body: UpdateKeyInput) => call(api.PATCH("/keys/{id}", { params: key(id), body: body as Omit<UpdateKeyInput, "suspendedUntil"> })),
      revoke: (id: string) => call(api.DELETE("/keys/{id}", { params: key(id) })),
      rotate: (id: string, body: RotateKeyInput = {}) => call(api.POST("/keys/{id}/rotate", { params: key(id), body })),
      verify: (body: VerifyKeyInput) => call(api.POST("/keys/verify", { body })),
      /** up to 1,000 keys from elsewhere; one result per item, in order */
      import: (body: ImportKeysInput) => call(api.POST("/keys/import", { body })),
      usage: (id: string, query: KeyUsageQuery = {}) => call(api.GET("/keys/{id}/usage", { params: { ...key(id), query } })),
      requests: (id: string, query: KeyRequestsQuery = {}) => call(api.GET("/keys/{id}/requests", { params: { ...key(id), query } })),
    },
    webhooks: {
      create: (body: CreateWebhookInput) => call(api.POST("/webhooks", { body })),
      list: (query: ListWebhooksQuery = {}) => call(api.GET("/webhooks", { params: { query } })),
      get: (id: string) => call(api.GET("/webhooks/{id}", { params: key(id) })),
      update: (id: string, body: UpdateWebhookInput) => call(api.PATCH("/webhooks/{id}", { params: key(id), body })),
      delete: (id: string) => call(api.DELETE("/webhooks/{id}", { params: key(id) })),
      rotateSecret: (id: string) => call(api.POST("/webhooks/{id}/rotate-secret", { params: key(id) })),
      /** sends a webhook.test event now; answers the first attempt */
      test: (id: string) => call(api.POST("/webhooks/{id}/test", { params: key(id) })),
      deliveries: (id: string, query: DeliveriesQuery = {}) => call(api.GET("/webhooks/{id}/deliveries", { params: { ...key(id), query } })),
    },
    owners: {
      list: (query: ListOwnersQuery = {}) => call(api.GET("/owners", { params: { query } })),
      get: (id: string) => call(api.GET("/owners/{id}", { params: key(id) })),
      /** creates the owner, or replaces it whole (what the body leaves out takes its default) */
      put: (id: string, body: PutOwnerInput) => call(api.PUT("/owners/{id}", { params: key(id), body })),
      /** changes what the body names; `credits` with `remaining` alone keeps the refill */
      update: (id: string, body: UpdateOwnerInput) => call(api.PATCH("/owners/{id}", { params: key(id), body })),
      usage: (id: string, query: OwnerUsageQuery = {}) => call(api.GET("/owners/{id}/usage", { params: { ...key(id), query } })),
    },
    plans: {
      list: () => call(api.GET("/plans")),
      get: (id: string) => call(api.GET("/plans/{id}", { params: key(id) })),
      create: (body: CreatePlanInput) => call(api.POST("/plans", { body })),
      update: async (id: string, body: UpdatePlanInput): Promise<PlanChange> => {
        const request = api.PATCH("/plans/{id}", { params: key(id), body });
        const data = await call(request);
        const { response } = await request;
        return response.status === 202 ? { status: 202, accepted: data as PlanChangeAccepted } : { status: 200, plan: data as Plan };
      },
      delete: (id: string) => call(api.DELETE("/plans/{id}", { params: key(id) })),
      /** what `update` with this body would change, changing nothing */
      preview: (id: string, body: UpdatePlanInput) => call(api.POST("/plans/{id}/preview", { params: key(id), body })),
    },
    securityEvents: (query: SecurityEventsQuery = {}) => call(api.GET("/security-events", { params: { query } })),
    usage: (query: UsageQuery = {}) => call(api.GET("/usage", { params: { query } })),
    audit: (query: ListAuditQuery = {}) => call(api.GET("/audit", { params: { query } })),
    /** who the token belongs to, its role, and whether it may change anything (viewers may not) */
    whoami: () => call(api.GET("/whoami")),
    portal: {
      /** a one-use link into the portal for an owner */
      link: (body: PortalLinkInput) => call(api.POST("/portal/sessions", { body })),
    },
  };
}

export type KeygateClient = ReturnType<typeof createKeygateClient>;

/**
 * Follows `nextCursor` from `cursor` until `limit` items are in hand (each request asks for
 * what is still missing, at most `pageSize`) or, with `limit: Infinity`, to the end. The
 * answer has the API's own shape: every item, and the cursor to continue from (null at the end).
 */
export async function collectPages<T>(
  fetchPage: (page: { limit: number; cursor?: string }) => Promise<{ data: T[]; nextCursor: string | null }>,
  options: { limit: number; pageSize: number; cursor?: string },
): Promise<{ data: T[]; nextCursor: string | null }> {
  const data: T[] = [];
  let cursor = options.cursor;
  for (;;) {
    const page = await fetchPage({ limit: Math.min(options.pageSize, options.limit - data.length), cursor });
    data.push(...page.data);
    if (page.nextCursor === null || data.length >= options.limit || page.data.length === 0) {
      return { data, nextCursor: page.nextCursor };
    }
    cursor = page.nextCursor;
  }
}
