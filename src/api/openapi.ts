import type { z } from "@hono/zod-openapi";
import { PROBLEMS } from "../errors";
import { ProblemSchema } from "./schemas";

/**
 * Reusable parts of the admin API's OpenAPI document, registered once as components
 * (index.ts) and referenced from every route, so each response states what it carries.
 */
export const HEADER_COMPONENTS = {
  "X-Request-Id": {
    description: "The id keygate gave this request; quote it when reporting a problem.",
    required: true,
    schema: { type: "string", pattern: "^req_[0-9a-f]{32}$", example: "req_0f4c1c8e5b2a4d7f9e3a6b1c2d5e8f90" },
  },
  "Cache-Control": {
    description: "Every admin answer is `no-store`: no browser, proxy or CDN keeps a key, a record or a figure.",
    required: true,
    schema: { type: "string", enum: ["no-store"] as string[] },
  },
  "Retry-After": {
    description: "Seconds to wait before trying again, when the outage is expected to pass.",
    schema: { type: "string", pattern: "^[0-9]+$" },
  },
  "WWW-Authenticate": {
    description: "The Bearer challenge (RFC 6750).",
    required: true,
    schema: { type: "string" },
  },
} as const;

const header = (name: keyof typeof HEADER_COMPONENTS) => ({ $ref: `#/components/headers/${name}` });
/** The headers every admin answer carries. */
export const EVERY_ANSWER = { "X-Request-Id": header("X-Request-Id"), "Cache-Control": header("Cache-Control") };

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  headers: EVERY_ANSWER,
  description,
});

/** A non-JSON answer (the Prometheus text of /metrics), with the headers every answer carries. */
export const textContent = <T extends z.ZodType>(mediaType: string, schema: T, description: string) => ({
  content: { [mediaType]: { schema } },
  headers: EVERY_ANSWER,
  description,
});

/** A required JSON body: a missing or non-JSON body is a validation error, not an empty object. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

const STATUS_CODES: Record<number, string[]> = {};
for (const [code, [status]] of Object.entries(PROBLEMS)) (STATUS_CODES[status] ??= []).push(code);

/** Headers a problem of this status carries besides X-Request-Id. */
const PROBLEM_HEADERS: Record<number, Record<string, { $ref: string }>> = {
  401: { "WWW-Authenticate": header("WWW-Authenticate") },
  429: { "Retry-After": header("Retry-After") },
  503: { "Retry-After": header("Retry-After") },
};

/** problem+json responses for the given statuses, listing the codes each may carry. */
function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        content: { "application/problem+json": { schema: ProblemSchema } },
        headers: { ...EVERY_ANSWER, ...PROBLEM_HEADERS[status] },
        description: `Problem: ${STATUS_CODES[status]?.join(", ") ?? "error"}`,
      },
    ]),
  );
}

/**
 * What any admin route may answer besides its own outcomes: 400 for a request that fails
 * validation, 401 and 403 from admin auth, 429 TOO_MANY_INVALID_KEYS for a client that keeps
 * presenting credentials that match nothing, 503 when key storage cannot be reached.
 */
const EVERY_ROUTE = [400, 401, 403, 429, 503];

/** The problems a route can answer: every route's, those of a JSON body (413, 415) when it reads one, and its own. */
export function problemResponses(options: { body?: boolean; own?: number[] } = {}) {
  const statuses = new Set([...EVERY_ROUTE, ...(options.body ? [413, 415] : []), ...(options.own ?? [])]);
  return errorResponses(...[...statuses].sort((a, b) => a - b));
}
