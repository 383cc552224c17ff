import type { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "zod";
import type { AppEnv } from "../context";
import { clientIp } from "../middleware";
import { importKeys, itemProblem, type ImportInput, type ImportItem } from "../lifecycle/import";
import { notAsGiven, bodyRequired } from "./body";
import { jsonBody, jsonContent, problemResponses } from "./openapi";
import { ImportKeyItem, ImportKeysBody, ImportKeysEnvelope, ImportResultsSchema } from "./schemas";
import { describeIssues, validationFailed } from "./validation";

/** The import's path below ADMIN_PATH: its body may be larger than other admin bodies (index.ts). */
export const IMPORT_PATH = "/keys/import";

/** At most this many bytes of body: a thousand items with room for their metadata. */
export const IMPORT_BODY_LIMIT = 1024 * 1024;

/**
 * `POST /admin/keys/import` (DESIGN.md, "Importing keys"). The document describes each item in
 * full, but the route validates the envelope first and each item on its own, so one bad item is
 * answered `invalid` while the others are imported: hence the path is registered in the document
 * by hand, beside a plain handler.
 */
export function registerImportRoute(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: IMPORT_PATH,
    operationId: "importKeys",
    tags: ["keys"],
    summary: "Import keys from elsewhere",
    description:
      `Up to 1,000 keys a call, each with the fields of a create and exactly one of \`key\` and \`hash\`; the body may be up to ` +
      `${IMPORT_BODY_LIMIT} bytes. One result per item, in order: \`created\`, \`exists\` (a key with that hash is already ` +
      "here: never a second one) or `invalid` (with its problem). With `dryRun`, nothing is written.",
    request: { body: jsonBody(ImportKeysBody) },
    responses: { 200: jsonContent(ImportResultsSchema, "One result per item, in order"), ...problemResponses({ body: true }) },
  });

  app.post(IMPORT_PATH, bodyRequired(), async (c) => {
    const envelope = ImportKeysEnvelope.safeParse(await c.req.json());
    if (!envelope.success) throw validationFailed(envelope.error.issues);
    const inputs = envelope.data.keys.map(validateItem);
    const results = await importKeys(
      {
        env: c.env,
        services: c.get("services"),
        audit: { actor: c.get("actor").id, requestId: c.get("requestId"), clientIp: clientIp(c.req.raw.headers) },
        waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      },
      inputs,
      envelope.data.dryRun,
    );
    return c.json({ results } satisfies z.infer<typeof ImportResultsSchema>, 200);
  });
}

/** One item, validated as a create's fields would be; what fails is the item's problem, with paths within the item. */
function validateItem(item: unknown): ImportInput {
  const unkept = notAsGiven(item);
  if (unkept.length > 0) return { problem: itemProblem("VALIDATION_FAILED", unkept.map((i) => `${i.path}: ${i.message}`).join("; "), unkept) };
  const parsed = ImportKeyItem.safeParse(item);
  if (parsed.success) return { item: parsed.data as ImportItem };
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  return { problem: itemProblem("VALIDATION_FAILED", describeIssues(parsed.error.issues), issues) };
}
