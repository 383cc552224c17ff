/**
 * A typed client for keygate's portal API (PORTAL_PATH/api), for the portal's pages: every path,
 * body and answer comes from client/portal-openapi.d.ts, which `npm run client:generate` writes from the
 * document the worker serves. The session travels in its HttpOnly cookie, which the browser
 * sends by itself; the pages never see it. No Node-only imports.
 */
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./portal-openapi.d.ts";
import { answerOf, keygateFetch } from "./index.ts";

type Schemas = components["schemas"];
export type PortalKey = Schemas["PortalKey"];
export type CreatedPortalKey = Schemas["CreatedPortalKey"];
export type PortalMe = Schemas["PortalMe"];
export type PortalUsage = Schemas["PortalUsage"];
export type RequestLog = Schemas["RequestLog"];

type JsonBody<Op> = Op extends { requestBody?: { content: { "application/json": infer Body } } } ? Body : never;
type Query<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
export type CreateOwnKeyInput = JsonBody<operations["createOwnKey"]>;
export type UpdateOwnKeyInput = JsonBody<operations["updateOwnKey"]>;
export type RotateOwnKeyInput = JsonBody<operations["rotateOwnKey"]>;
export type OwnUsageQuery = Query<operations["ownUsage"]>;
export type OwnKeysQuery = Query<operations["listOwnKeys"]>;

export function createPortalClient(options: { baseUrl: string; timeoutMs?: number; fetch?: typeof fetch }) {
  const api = createClient<paths>({ baseUrl: options.baseUrl, fetch: keygateFetch(options.baseUrl, options.timeoutMs, options.fetch) });
  const call = answerOf(options.baseUrl);
  const key = (id: string) => ({ path: { id } });
  return {
    me: () => call(api.GET("/me")),
    signOut: () => call(api.POST("/sign-out")),
    usage: (query: OwnUsageQuery = {}) => call(api.GET("/usage", { params: { query } })),
    keys: {
      list: (query: OwnKeysQuery = {}) => call(api.GET("/keys", { params: { query } })),
      create: (body: CreateOwnKeyInput) => call(api.POST("/keys", { body })),
      update: (id: string, body: UpdateOwnKeyInput) => call(api.PATCH("/keys/{id}", { params: key(id), body })),
      rotate: (id: string, body: RotateOwnKeyInput = {}) => call(api.POST("/keys/{id}/rotate", { params: key(id), body })),
      revoke: (id: string) => call(api.DELETE("/keys/{id}", { params: key(id) })),
      requests: (id: string) => call(api.GET("/keys/{id}/requests", { params: key(id) })),
    },
  };
}

export type PortalClient = ReturnType<typeof createPortalClient>;
