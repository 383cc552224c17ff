import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

/**
 * A stand-in identity provider on loopback, for the tests of operators' sign-in (ADMIN_OIDC,
 * ADMIN_ACCESS) and of the portal's bearer tokens (PORTAL_OIDC). Each tenant is a server of its
 * own, so its origin can be an OIDC issuer and a Cloudflare Access team domain alike:
 *
 *   GET  /jwks, /cdn-cgi/access/certs   its public keys (an RS256 key and an ES256 key), as a JWK Set
 *   POST /__control/sign                 a token: { claims, alg?, key?, kid? } (below)
 *   POST /__control/rotate               a new RS256 key, published beside the others
 *   POST /__control/mode                 { mode: "up" | "503" | "reset" | "garbage" | "slow" } for the key set
 *   GET  /__control/fetches              how many times the key set was fetched
 *
 * `alg`: "RS256" (default), "ES256", "HS256-public" (HMAC keyed with the RS256 key's public PEM:
 * the algorithm-confusion attack), "none". `key`: "newest" (default, the newest RS256 key),
 * "unpublished" (a key the set never shows). `kid` overrides the header's kid.
 *
 * The workers tests reach a tenant through the control server (`POST /tenants` answers the new
 * tenant's origin); Node tests call `startTenant` directly.
 */

interface Signer {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  pem: string;
}

async function signer(alg: "RS256" | "ES256"): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" }, pem: await exportSPKI(publicKey) };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export interface SignRequest {
  claims: JWTPayload;
  alg?: "RS256" | "ES256" | "HS256-public" | "none";
  key?: "newest" | "unpublished";
  kid?: string;
}

export interface Tenant {
  /** the tenant's origin: an OIDC issuer, or a Cloudflare Access team domain */
  url: string;
  jwksUrl: string;
  sign(request: SignRequest): Promise<string>;
  close(): Promise<void>;
}

const tenants = new Set<Tenant>();

export async function startTenant(): Promise<Tenant> {
  const rsa = [await signer("RS256")];
  const ec = await signer("ES256");
  const hidden = await signer("RS256");
  let mode = "up";
  let fetches = 0;

  async function sign(request: SignRequest): Promise<string> {
    const alg = request.alg ?? "RS256";
    const rsaKey = request.key === "unpublished" ? hidden : rsa.at(-1)!;
    const key = alg === "ES256" ? ec : rsaKey;
    const kid = request.kid ?? key.kid;
    if (alg === "none") return `${b64url({ alg: "none", typ: "JWT", kid })}.${b64url(request.claims)}.`;
    if (alg === "HS256-public") {
      return new SignJWT(request.claims).setProtectedHeader({ alg: "HS256", typ: "JWT", kid }).sign(new TextEncoder().encode(key.pem));
    }
    return new SignJWT(request.claims).setProtectedHeader({ alg, typ: "JWT", kid }).sign(key.privateKey);
  }

  const read = (req: http.IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk));
      req.on("end", () => resolve(text));
    });
  const json = (res: http.ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(value));
  };

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/jwks" || path === "/cdn-cgi/access/certs") {
      fetches++;
      if (mode === "reset") return void req.socket.destroy();
      if (mode === "slow") return; // never answers: keygate's fetch times out
      if (mode === "503") return json(res, 503, { error: "down" });
      if (mode === "garbage") {
        res.writeHead(200, { "Content-Type": "text/html" });
        return void res.end("<html>maintenance</html>");
      }
      return json(res, 200, { keys: [...rsa.map((k) => k.publicJwk), ec.publicJwk] });
    }
    try {
      if (path === "/__control/sign") return json(res, 200, { token: await sign(JSON.parse(await read(req)) as SignRequest) });
      if (path === "/__control/rotate") {
        rsa.push(await signer("RS256"));
        return json(res, 200, { kid: rsa.at(-1)!.kid });
      }
      if (path === "/__control/mode") {
        mode = (JSON.parse(await read(req)) as { mode: string }).mode;
        return json(res, 200, { mode });
      }
      if (path === "/__control/fetches") return json(res, 200, { fetches });
      json(res, 404, { error: "no such path" });
    } catch (err) {
      json(res, 500, { error: String(err) });
    }
  });
  server.keepAliveTimeout = 60_000; // as the origin's (origin.ts)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tenant: Tenant = {
    url,
    jwksUrl: `${url}/jwks`,
    sign,
    close: () =>
      new Promise<void>((resolve) => {
        tenants.delete(tenant);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  tenants.add(tenant);
  return tenant;
}

/** Stops every tenant still running. */
export const closeTenants = () => Promise.all([...tenants].map((t) => t.close())).then(() => undefined);

/** The control server the workers tests call: `POST /tenants` starts a tenant and answers its origin. */
export function startIdentityProvider(): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.method === "POST" && req.url === "/tenants") {
      const tenant = await startTenant();
      res.writeHead(201, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify({ url: tenant.url }));
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 60_000; // as the origin's (origin.ts)
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
