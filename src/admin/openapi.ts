import type { z } from "@hono/zod-openapi";
import { PROBLEMS } from "../errors";
import { ProblemSchema } from "./schemas";

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/** A required JSON body: a missing or non-JSON body is a validation error, not an empty object. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

const STATUS_CODES: Record<number, string[]> = {};
for (const [code, [status]] of Object.entries(PROBLEMS)) (STATUS_CODES[status] ??= []).push(code);

/** problem+json responses for the given statuses, listing the codes each may carry. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        content: { "application/problem+json": { schema: ProblemSchema } },
        description: `Problem: ${STATUS_CODES[status]?.join(", ") ?? "error"}`,
      },
    ]),
  );
}
