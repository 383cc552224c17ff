import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import type { JWTPayload } from "jose";
import worker from "../../src/index";
import { ADMIN_TOKEN, BASE, expectDocumented } from "./helpers";

/**
 * A tenant of the stand-in identity provider (test/support/idp.ts): its own origin on loopback,
 * serving an RS256 and an ES256 key at /jwks and /cdn-cgi/access/certs, and signing tokens on
 * request. Serves as an OIDC issuer and as a Cloudflare Access team domain.
 */
export interface Tenant {
  url: string;
  jwksUrl: string;
  sign(claims: JWTPayload, options?: { alg?: "RS256" | "ES256" | "HS256-public" | "none"; key?: "newest" | "unpublished"; kid?: string }): Promise<string>;
  /** how the key set answers from now on */
  mode(mode: "up" | "503" | "reset" | "garbage" | "slow"): Promise<void>;
  /** publishes a new RS256 key, which `sign` uses from then on */
  rotate(): Promise<string>;
  /** how many times the key set was fetched */
  fetches(): Promise<number>;
}

const IDP = (env as unknown as { TEST_IDP_URL: string }).TEST_IDP_URL;

export async function newTenant(): Promise<Tenant> {
  const res = await fetch(`${IDP}/tenants`, { method: "POST" });
  const { url } = (await res.json()) as { url: string };
  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const answer = await fetch(`${url}/__control/${path}`, { method: body === undefined ? "GET" : "POST", body: body === undefined ? undefined : JSON.stringify(body) });
    if (!answer.ok) throw new Error(`idp ${path}: ${answer.status} ${await answer.text()}`);
    return answer.json() as Promise<T>;
  };
  return {
    url,
    jwksUrl: `${url}/jwks`,
    sign: async (claims, options = {}) => (await control<{ token: string }>("sign", { claims, ...options })).token,
    mode: async (mode) => void (await control("mode", { mode })),
    rotate: async () => (await control<{ kid: string }>("rotate", {})).kid,
    fetches: async () => (await control<{ fetches: number }>("fetches")).fetches,
  };
}

const now = () => Math.floor(Date.now() / 1000);

/** Claims a well-behaved issuer would put in a token for `aud`, valid for five minutes. */
export const claimsFor = (issuer: string, audience: string, extra: JWTPayload = {}): JWTPayload => ({
  iss: issuer,
  aud: audience,
  iat: now(),
  exp: now() + 300,
  ...extra,
});

/** `documented: false` skips the OpenAPI check, for routes other work will add (plans, webhooks). */
export type Fetch = (path: string, init?: RequestInit & { json?: unknown; token?: string | null; documented?: boolean }) => Promise<Response>;

/**
 * The worker with these vars on top of the test config, as a client on the internet calls it;
 * admin and portal answers are checked against their OpenAPI documents. `token` is sent as a
 * bearer (default: none).
 */
export function workerWith(vars: Record<string, string>): { env: Env; fetch: Fetch } {
  const custom = { ...env, ...vars } as Env;
  const call: Fetch = async (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(init.json);
    }
    const ctx = createExecutionContext();
    const request = new Request(`${BASE}${path}`, { ...init, headers, body }) as Request<unknown, IncomingRequestCfProperties>;
    const res = await worker.fetch(request, custom, ctx);
    await waitOnExecutionContext(ctx);
    if (init.documented !== false) await expectDocumented(init.method ?? "GET", path, res);
    return res;
  };
  return { env: custom, fetch: call };
}

export const asRoot = ADMIN_TOKEN;
