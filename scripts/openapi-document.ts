/**
 * The admin API's OpenAPI document as the worker itself serves it, and the TypeScript types
 * client/openapi.d.ts holds, generated from it with openapi-typescript's default options (so
 * what any openapi-typescript user gets from the document is what the CLI is typed with).
 */
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from "openapi-typescript";
import { buildWorker, removeBuild, startLocalGateway } from "./local-gateway.ts";

export const TYPES_PATH = new URL("../client/openapi.d.ts", import.meta.url).pathname;

/** Fetches /admin/openapi.json from a running gateway. */
async function fetchDocument(gatewayUrl: string): Promise<OpenAPI3> {
  const res = await fetch(`${gatewayUrl}/admin/openapi.json`);
  if (!res.ok) throw new Error(`GET /admin/openapi.json answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Builds the worker, starts it in workerd and reads its document. */
export async function documentFromWorker(): Promise<OpenAPI3> {
  const scriptPath = await buildWorker();
  try {
    const gateway = await startLocalGateway({ scriptPath });
    try {
      return await fetchDocument(gateway.url);
    } finally {
      await gateway.dispose();
    }
  } finally {
    await removeBuild(scriptPath);
  }
}

export async function typesFor(document: OpenAPI3): Promise<string> {
  const ast = await openapiTS(document);
  return `${COMMENT_HEADER.replace(
    " */",
    " * Source: keygate's GET /admin/openapi.json. Regenerate with `npm run client:generate`.\n */",
  )}${astToString(ast)}`;
}
