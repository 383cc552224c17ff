import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";

/**
 * Admin request bodies are JSON objects. These checks run before any field is read, so a
 * client that sends the wrong media type, broken JSON or no body at all learns what to send
 * instead of getting a list of missing fields.
 */

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/;
const SEND_JSON = "send a JSON object with `Content-Type: application/json`";

const invalidBody = (detail: string, message: string) =>
  new ProblemError("VALIDATION_FAILED", detail, { extensions: { issues: [{ path: "", message }] } });

/** Refuses a body that is not JSON: 415 for another media type, 400 for text that does not parse. */
export const jsonRequests = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (!BODY_METHODS.has(c.req.method)) return next();
  const contentType = c.req.header("Content-Type");
  const text = await c.req.text();
  if (!contentType && text.length === 0) return next();
  const mediaType = contentType?.split(";")[0].trim().toLowerCase() ?? "";
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    const sent = mediaType ? `this request sent ${mediaType}` : "this request sent no Content-Type";
    throw new ProblemError("UNSUPPORTED_MEDIA_TYPE", `The admin API reads JSON: ${SEND_JSON} (${sent}).`);
  }
  if (text.trim() === "") throw invalidBody(`The request body is empty: ${SEND_JSON}.`, "body is empty");
  try {
    JSON.parse(text);
  } catch (err) {
    // The parser's position helps; its excerpt of the body is not echoed (it may hold a key).
    const at = /position (\d+)/.exec(String((err as Error).message))?.[1];
    const where = at === undefined ? "" : ` (near character ${at})`;
    throw invalidBody(`The request body is not valid JSON${where}: ${SEND_JSON}.`, "body is not valid JSON");
  }
  await next();
};

/** For routes whose body is required: leaving it out is a validation error, not an empty object. */
export const bodyRequired = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if ((await c.req.text()).length === 0) {
    throw invalidBody(`This request needs a JSON body: ${SEND_JSON}.`, "a JSON body is required");
  }
  await next();
};
