import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import ajvFormats from "ajv-formats";

/**
 * Checks admin responses against the OpenAPI 3.1 document the worker serves: the status is one
 * the operation declares, the media type is declared for it, required headers are present and
 * match their schemas, and the body validates (ajv, JSON Schema 2020-12). Runs in Node: ajv
 * compiles validators with `new Function`, which workerd forbids.
 */

/** What a test received: a method and path on the gateway, and the response as sent. */
export interface ReceivedResponse {
  method: string;
  /** path as requested, e.g. /admin/keys/key_01.../rotate?x=1 */
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Schema {
  [keyword: string]: unknown;
}
interface MediaType {
  schema?: Schema;
}
interface Header {
  $ref?: string;
  required?: boolean;
  schema?: Schema;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
  headers?: Record<string, Header>;
}
interface Operation {
  operationId?: string;
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
}
export interface OpenApiDocument {
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; headers?: Record<string, Header> };
}

/**
 * What the admin path serves outside the document: the document itself, its reference page,
 * the dashboard's pages and the pages' static assets.
 */
const UNDOCUMENTED = new Set(["/openapi.json", "/docs", "/ui"]);
const UNDOCUMENTED_UNDER = ["/ui/", "/assets/"];
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** ajv with the document's components, and a cache of compiled schemas. */
function compilerFor(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajvFormats.default(ajv); // CommonJS: the plugin is both module.exports and its `default`
  // OpenAPI's own annotations, beside JSON Schema's.
  ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs"]);
  // OpenAPI's `#/components/schemas/X` refs point into one schema holding every component.
  const pointInto = (schema: Schema, id: string): Schema =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${id}#/$defs/`));
  ajv.addSchema(pointInto({ $id: "keygate:components", $defs: doc.components?.schemas ?? {} }, ""));

  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (key: string, schema: Schema): ValidateFunction => {
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(pointInto(schema, "keygate:components"));
      compiled.set(key, validate);
    }
    return validate;
  };
  // Every component compiles, so a schema ajv cannot use fails on the first check, not the hundredth.
  for (const name of Object.keys(doc.components?.schemas ?? {})) validatorFor(`#${name}`, { $ref: `#/components/schemas/${name}` });
  return { ajv, validatorFor };
}

/**
 * The request body schema of an operation, compiled: what a client generated from the document
 * would check before sending. Answers the errors ajv finds (none: the document allows the body).
 */
export function requestBodyChecker(doc: OpenApiDocument) {
  const { validatorFor } = compilerFor(doc);
  return function check(operationId: string, body: unknown): string[] {
    const operation = Object.values(doc.paths)
      .flatMap((item) => Object.values(item))
      .find((op) => op.operationId === operationId);
    const schema = operation?.requestBody?.content["application/json"]?.schema;
    if (!schema) throw new Error(`the document has no JSON request body for ${operationId}`);
    const validate = validatorFor(`${operationId} request`, schema);
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  };
}

export function responseChecker(doc: OpenApiDocument) {
  const { ajv, validatorFor } = compilerFor(doc);
  const base = doc.servers?.[0]?.url ?? "";

  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^/}]+\}/g, "[^/]+")}$`),
    literal: !template.includes("{"),
  }));
  /** The documented template for a concrete path; literal paths win over templated ones. */
  const templateOf = (path: string, method: string) =>
    templates
      .filter((t) => t.pattern.test(path) && doc.paths[t.template][method])
      .sort((a, b) => Number(b.literal) - Number(a.literal))[0]?.template;

  const resolveHeader = (header: Header): Header => {
    if (!header.$ref) return header;
    const name = header.$ref.replace("#/components/headers/", "");
    const resolved = doc.components?.headers?.[name];
    if (!resolved) throw new Error(`the document refers to a header component ${name} it does not define`);
    return resolved;
  };

  return function check(received: ReceivedResponse): string[] {
    const url = new URL(received.path, "http://gateway.test");
    const method = received.method.toLowerCase() === "head" ? "get" : received.method.toLowerCase();
    const relative = url.pathname.startsWith(base) ? url.pathname.slice(base.length) || "/" : url.pathname;
    if (UNDOCUMENTED.has(relative) || UNDOCUMENTED_UNDER.some((prefix) => relative.startsWith(prefix))) return [];
    const headers = new Map(Object.entries(received.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const mediaType = (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const template = METHODS.includes(method) ? templateOf(relative, method) : undefined;
    const where = `${received.method} ${received.path} (${received.status})`;

    if (!template) {
      // No documented operation: the admin API must say so as a 404 problem, never serve anything.
      const errors = received.status === 404 ? [] : [`${where}: no documented operation, yet the answer is not 404`];
      return [...errors, ...validateBody(where, "problem", { $ref: "#/components/schemas/Problem" }, mediaType, received.body)];
    }
    const operation = doc.paths[template][method];
    const op = `${method.toUpperCase()} ${template}`;
    const response = operation.responses[String(received.status)] ?? operation.responses.default;
    if (!response) {
      return [`${where}: status ${received.status} is not declared for ${op} (declared: ${Object.keys(operation.responses).join(", ")})`];
    }
    const errors: string[] = [];
    for (const [name, declared] of Object.entries(response.headers ?? {})) {
      const header = resolveHeader(declared);
      const value = headers.get(name.toLowerCase());
      if (value === undefined) {
        if (header.required) errors.push(`${where}: required header ${name} is missing`);
        continue;
      }
      if (header.schema) {
        const validate = validatorFor(`${op} ${received.status} header ${name}`, header.schema);
        if (!validate(value)) errors.push(`${where}: header ${name}: ${value} ${ajv.errorsText(validate.errors)}`);
      }
    }
    const isHead = received.method.toUpperCase() === "HEAD";
    if (!response.content) {
      if (received.body.length > 0) errors.push(`${where}: ${op} declares no body for ${received.status}, yet one came`);
      return errors;
    }
    const declared = response.content[mediaType];
    if (!declared) {
      errors.push(`${where}: media type "${mediaType}" is not declared (declared: ${Object.keys(response.content).join(", ")})`);
      return errors;
    }
    if (isHead || !declared.schema) return errors;
    return [...errors, ...validateBody(where, `${op} ${received.status} ${mediaType}`, declared.schema, mediaType, received.body)];
  };

  function validateBody(where: string, key: string, schema: Schema, mediaType: string, body: string): string[] {
    if (!/^application\/([\w.-]+\+)?json$/.test(mediaType)) {
      // A text answer (the Prometheus text of /admin/metrics) is checked as the string it is.
      if (mediaType.startsWith("text/") && (schema as { type?: unknown }).type === "string") {
        const validate = validatorFor(key, schema);
        return validate(body) ? [] : [`${where}: body ${ajv.errorsText(validate.errors)}`];
      }
      return [`${where}: body is ${mediaType || "untyped"}, not JSON`];
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return [`${where}: body is not JSON: ${body.slice(0, 200)}`];
    }
    const validate = validatorFor(key, schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  }
}
