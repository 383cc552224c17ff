/**
 * The admin API's and the portal API's OpenAPI documents as the worker itself serves them, and
 * the TypeScript types client/openapi.d.ts and client/portal-openapi.d.ts hold, generated from them
 * with openapi-typescript's default options (so what any openapi-typescript user gets from a
 * document is what the CLI, the dashboard and the portal's pages are typed with).
 */
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from "openapi-typescript";
import { buildWorker, removeBuild, startLocalGateway } from "./local-gateway.ts";

export const TYPES_PATH = new URL("../client/openapi.d.ts", import.meta.url).pathname;
export const PORTAL_TYPES_PATH = new URL("../client/portal-openapi.d.ts", import.meta.url).pathname;

export const ADMIN_DOCUMENT = "/admin/openapi.json";
export const PORTAL_DOCUMENT = "/portal/api/openapi.json";

/** Fetches a document from a running gateway. */
async function fetchDocument(gatewayUrl: string, path: string): Promise<OpenAPI3> {
  const res = await fetch(`${gatewayUrl}${path}`);
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Builds the worker, starts it in workerd and reads the documents at `paths`. */
export async function documentsFromWorker(paths: string[]): Promise<OpenAPI3[]> {
  const scriptPath = await buildWorker();
  try {
    const gateway = await startLocalGateway({ scriptPath });
    try {
      return await Promise.all(paths.map((path) => fetchDocument(gateway.url, path)));
    } finally {
      await gateway.dispose();
    }
  } finally {
    await removeBuild(scriptPath);
  }
}

/** The admin API's document. */
export const documentFromWorker = async (): Promise<OpenAPI3> => (await documentsFromWorker([ADMIN_DOCUMENT]))[0];

export async function typesFor(document: OpenAPI3, source = ADMIN_DOCUMENT): Promise<string> {
  const ast = await openapiTS(document);
  return `${COMMENT_HEADER.replace(
    " */",
    ` * Source: keygate's GET ${source}. Regenerate with \`npm run client:generate\`.\n */`,
  )}${astToString(ast)}`;
}
