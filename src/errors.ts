import type { Context } from "hono";
import { ZodError } from "zod";
import { newRequestId } from "./http/request-id";

/** Every error code keygate answers with, its HTTP status and its human title. */
export const PROBLEMS = {
  // consumer requests (DESIGN.md, "Consumer requests")
  MISSING_KEY: [401, "API key missing"],
  MALFORMED_KEY: [401, "API key malformed"],
  KEY_NOT_FOUND: [401, "API key not found"],
  KEY_REVOKED: [401, "API key revoked"],
  KEY_EXPIRED: [401, "API key expired"],
  KEY_DISABLED: [403, "API key disabled"],
  KEY_SUSPENDED: [429, "API key suspended"],
  NO_ROUTE: [404, "No route"],
  IP_NOT_ALLOWED: [403, "Client IP not allowed"],
  INSUFFICIENT_SCOPE: [403, "Insufficient scope"],
  RATE_LIMITED: [429, "Rate limit exceeded"],
  QUOTA_EXHAUSTED: [429, "Credits exhausted"],
  UPSTREAM_UNAVAILABLE: [502, "Upstream unavailable"],
  UPSTREAM_TIMEOUT: [504, "Upstream timeout"],
  GATEWAY_UNAVAILABLE: [503, "Gateway unavailable"],
  TOO_MANY_INVALID_KEYS: [429, "Too many invalid keys"],
  // admin API
  VALIDATION_FAILED: [400, "Validation failed"],
  UNAUTHORIZED: [401, "Unauthorized"],
  FORBIDDEN: [403, "Forbidden"],
  SCOPE_NOT_ALLOWED: [403, "Scope not allowed"],
  NOT_FOUND: [404, "Not found"],
  METHOD_NOT_ALLOWED: [405, "Method not allowed"],
  CONFLICT: [409, "Conflict"],
  KEY_LIMIT_REACHED: [409, "Key limit reached"],
  PLAN_IN_USE: [409, "Plan in use"],
  PAYLOAD_TOO_LARGE: [413, "Payload too large"],
  UNSUPPORTED_MEDIA_TYPE: [415, "Unsupported media type"],
  USAGE_UNAVAILABLE: [503, "Usage figures unavailable"],
  // whole worker
  CONFIG_INVALID: [500, "Gateway configuration invalid"],
  INTERNAL: [500, "Internal error"],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemCode = keyof typeof PROBLEMS;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  requestId: string;
  [extension: string]: unknown;
}

export const problemType = (code: ProblemCode): string =>
  `https://keygate.dev/problems/${code.toLowerCase().replaceAll("_", "-")}`;

/** Thrown anywhere in the worker; `onError` turns it into application/problem+json. */
export class ProblemError extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly options: { headers?: HeadersInit; extensions?: Record<string, unknown> } = {},
  ) {
    super(`${code}: ${detail}`);
    this.name = "ProblemError";
    this.status = PROBLEMS[code][0];
  }
}

export function problemResponse(error: ProblemError, requestId: string): Response {
  const body: ProblemBody = {
    type: problemType(error.code),
    title: PROBLEMS[error.code][1],
    status: error.status,
    detail: error.detail,
    code: error.code,
    requestId,
    ...error.options.extensions,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const headers = new Headers(error.options.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Content-Length", String(bytes.byteLength));
  headers.set("X-Request-Id", requestId);
  headers.set("Cache-Control", "no-store");
  if (error.status === 401 && !headers.has("WWW-Authenticate")) {
    headers.set("WWW-Authenticate", wwwAuthenticate(error));
  }
  return new Response(bytes, { status: error.status, headers });
}

/** RFC 6750 section 3.1: the challenge to a request that carried no credentials at all has no error attribute. */
export const BARE_CHALLENGE = 'Bearer realm="keygate"';

/**
 * RFC 6750 section 3.1: the challenge to a key that lacks scopes, naming them. A scope-token
 * holds printable ASCII but for space, `"` and `\\`, so anything else is left out.
 */
export function insufficientScopeChallenge(missing: readonly string[]): string {
  const tokens = missing.map((scope) => scope.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, "")).filter(Boolean);
  return `Bearer error="insufficient_scope", scope="${tokens.join(" ")}"`;
}

function wwwAuthenticate(error: ProblemError): string {
  if (error.code === "MISSING_KEY") return BARE_CHALLENGE;
  const description = error.detail.replace(/[\\"]/g, "").replace(/[^\x20-\x7e]/g, "");
  return `Bearer realm="keygate", error="invalid_token", error_description="${description}"`;
}

/** Maps anything thrown to a problem; unknown errors are logged and answered with a bare 500. */
export function toProblem(err: unknown, requestId: string): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof ZodError) {
    return new ProblemError("VALIDATION_FAILED", err.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), {
      extensions: { issues: err.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
    });
  }
  const status = (err as { status?: unknown })?.status;
  // Hono's HTTPException (malformed JSON, body limits) carries a client status.
  if (typeof status === "number" && status >= 400 && status < 500) {
    const code: ProblemCode =
      status === 413 ? "PAYLOAD_TOO_LARGE" : status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "VALIDATION_FAILED";
    return new ProblemError(code, clientMessage(err));
  }
  console.error(
    JSON.stringify({ level: "error", requestId, error: String(err), stack: (err as Error)?.stack }),
  );
  return new ProblemError("INTERNAL", `An internal error occurred. Quote request id ${requestId} when reporting it.`);
}

function clientMessage(err: unknown): string {
  const message = (err as Error)?.message ?? "";
  if (/malformed json/i.test(message)) return "The request body is not valid JSON.";
  if (/unsupported media type/i.test(message)) return "Send the body as JSON with `Content-Type: application/json`.";
  return message || "The request is invalid.";
}

export function onError(err: unknown, c: Context): Response {
  const requestId = c.get("requestId") ?? newRequestId();
  return problemResponse(toProblem(err, requestId), requestId);
}
