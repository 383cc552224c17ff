import { calculateJwkThumbprint, importJWK, SignJWT, type JWK } from "jose";
import type { Config } from "../config";
import type { StoredKey } from "../store/record";
import { Lru } from "../store/lru";

/**
 * The identity assertion the origin can verify (DESIGN.md, "What the origin receives"):
 * an ES256 JWT signed with ASSERTION_PRIVATE_KEY, published at /.well-known/jwks.json.
 */

interface Signer {
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

const signers = new WeakMap<Config["assertionJwk"], Promise<Signer>>();

export function signerFor(config: Config): Promise<Signer> {
  let signer = signers.get(config.assertionJwk);
  if (!signer) {
    signer = makeSigner(config.assertionJwk);
    signers.set(config.assertionJwk, signer);
  }
  return signer;
}

async function makeSigner(jwk: Config["assertionJwk"]): Promise<Signer> {
  const { kty, crv, x, y } = jwk;
  const publicJwk: JWK = { kty, crv, x, y };
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  const privateKey = (await importJWK({ kty, crv, x, y, d: jwk.d }, "ES256")) as CryptoKey;
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: "ES256", use: "sig" } };
}

export const ASSERTION_TTL_SECONDS = 60;
/** An isolate may hand the same assertion to requests of one key, version and route this long. */
export const ASSERTION_REUSE_SECONDS = 30;

const issued = new Lru<{ jwt: string; iat: number }>(10_000, 16 * 1024 * 1024);

export async function assertionFor(config: Config, key: StoredKey, route: string, issuer: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const cacheKey = `${key.id}\n${key.version}\n${route}\n${issuer}`;
  const reused = issued.get(cacheKey);
  if (reused && now - reused.iat < ASSERTION_REUSE_SECONDS) return reused.jwt;
  const signer = await signerFor(config);
  const jwt = await new SignJWT({
    kid: key.id,
    scope: key.scopes.join(" "),
    env: key.environment,
    ver: key.version,
  })
    .setProtectedHeader({ alg: "ES256", kid: signer.kid, typ: "JWT" })
    .setIssuer(issuer)
    .setAudience(route)
    .setSubject(key.ownerId)
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_TTL_SECONDS)
    .sign(signer.privateKey);
  issued.set(cacheKey, { jwt, iat: now }, cacheKey.length * 2 + jwt.length * 2 + 64);
  return jwt;
}
