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

/**
 * A route whose body carries a list of items each judged on its own (POST /admin/keys/import):
 * what `notAsGiven` finds inside an item is that item's problem, for the route to answer.
 */
export interface ItemisedBody {
  path: string;
  field: string;
}

/** Refuses a body that is not JSON: 415 for another media type, 400 for text that does not parse. */
export const jsonRequests = (options: { itemsOf?: ItemisedBody } = {}): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (!BODY_METHODS.has(c.req.method)) return next();
  const contentType = c.req.header("Content-Type");
  const text = await c.req.text();
  if (text.length === 0) {
    // No body at all, whatever the Content-Type a client library adds by habit: a route whose
    // body is optional takes that as none, and one whose body is required says so (bodyRequired).
    if (contentType) c.req.raw = withoutContentType(c.req.raw);
    return next();
  }
  const mediaType = contentType?.split(";")[0].trim().toLowerCase() ?? "";
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    const sent = mediaType ? `this request sent ${mediaType}` : "this request sent no Content-Type";
    throw new ProblemError("UNSUPPORTED_MEDIA_TYPE", `The admin API reads JSON: ${SEND_JSON} (${sent}).`);
  }
  if (text.trim() === "") throw invalidBody(`The request body is empty: ${SEND_JSON}.`, "body is empty");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    // The parser's position helps; its excerpt of the body is not echoed (it may hold a key).
    const at = /position (\d+)/.exec(String((err as Error).message))?.[1];
    const where = at === undefined ? "" : ` (near character ${at})`;
    throw invalidBody(`The request body is not valid JSON${where}: ${SEND_JSON}.`, "body is not valid JSON");
  }
  const issues = notAsGiven(withoutItems(body, c.req.path, options.itemsOf));
  if (issues.length > 0) {
    throw new ProblemError("VALIDATION_FAILED", issues.map((i) => `${i.path}: ${i.message}`).join("; "), { extensions: { issues } });
  }
  await next();
};

/** The request as if it had been sent without a Content-Type (it has no body to describe). */
function withoutContentType(request: Request): Request {
  const headers = new Headers(request.headers);
  headers.delete("Content-Type");
  return new Request(request.url, { method: request.method, headers, cf: request.cf });
}

/** The body with the items of an itemised route left out (an empty list in their place). */
function withoutItems(body: unknown, path: string, itemised: ItemisedBody | undefined): unknown {
  if (!itemised || path !== itemised.path || body === null || typeof body !== "object" || Array.isArray(body)) return body;
  const items = (body as Record<string, unknown>)[itemised.field];
  return Array.isArray(items) ? { ...body, [itemised.field]: [] } : body;
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const MAX_ISSUES = 5;

/**
 * Where a parsed body holds what keygate could not keep exactly as sent, so it is refused
 * rather than changed: a string or key with a lone surrogate (not Unicode; D1's UTF-8 would
 * store U+FFFD instead), a `__proto__` key (a JavaScript object drops it or takes it as its
 * prototype, here and in most origins), or a number too large for JSON to write back
 * (`1e999` parses as Infinity, which JSON writes as null). Walked without recursion, so a
 * deeply nested body cannot exhaust the stack; paths read as validation issues do (`metadata.a.0`).
 */
export function notAsGiven(body: unknown): { path: string; message: string }[] {
  interface Node {
    value: unknown;
    key: string | number | null;
    parent: Node | null;
  }
  const pathOf = (node: Node): string => {
    const parts: (string | number)[] = [];
    for (let n: Node | null = node; n && n.key !== null; n = n.parent) parts.push(n.key);
    return parts.reverse().join(".");
  };
  const issues: { path: string; message: string }[] = [];
  const stack: Node[] = [{ value: body, key: null, parent: null }];
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) issues.push({ path: pathOf(node), message: "holds a lone surrogate (U+D800-U+DFFF outside a pair): send well-formed Unicode" });
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) issues.push({ path: pathOf(node), message: "is too large a number for JSON to write back" });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
    } else if (value !== null && typeof value === "object") {
      const children: Node[] = [];
      for (const [key, child] of Object.entries(value)) {
        const at: Node = { value: child, key, parent: node };
        if (key === "__proto__") issues.push({ path: pathOf(at), message: "__proto__ cannot be a key: JavaScript objects drop it or read it as a prototype" });
        else if (LONE_SURROGATE.test(key)) issues.push({ path: pathOf(at), message: "this key holds a lone surrogate (U+D800-U+DFFF outside a pair): send well-formed Unicode" });
        else children.push(at);
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    }
  }
  return issues;
}

/** For routes whose body is required: leaving it out is a validation error, not an empty object. */
export const bodyRequired = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if ((await c.req.text()).length === 0) {
    throw invalidBody(`This request needs a JSON body: ${SEND_JSON}.`, "a JSON body is required");
  }
  await next();
};
