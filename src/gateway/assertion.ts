import { calculateJwkThumbprint, importJWK, SignJWT, type JWK } from "jose";
import type { Config } from "../config";
import { ProblemError } from "../errors";
import type { StoredKey } from "../keys/record";

/**
 * The identity assertion the origin can verify (DESIGN.md, "What the origin receives"):
 * an ES256 JWT signed with ASSERTION_PRIVATE_KEY, published at /.well-known/jwks.json.
 */

interface Signer {
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

const signers = new WeakMap<Config, Promise<Signer>>();
/** Configs whose signing key has been checked and works: the hot path skips the await. */
const ready = new WeakSet<Config>();

/**
 * The signer for this config, built and checked once per isolate. A key that does not import,
 * or whose private part does not match its public part, rejects with CONFIG_INVALID.
 */
function signerFor(config: Config): Promise<Signer> {
  let signer = signers.get(config);
  if (!signer) {
    signer = makeSigner(config.assertionJwk);
    signer.then(() => ready.add(config)).catch(() => undefined);
    signers.set(config, signer);
  }
  return signer;
}

/** Resolves once the signing key is known to work (at once after the first time); rejects with CONFIG_INVALID. */
export const signerReady = (config: Config): Promise<unknown> | null => (ready.has(config) ? null : signerFor(config));

const ES256 = { name: "ECDSA", hash: "SHA-256" };

async function makeSigner(jwk: Config["assertionJwk"]): Promise<Signer> {
  const { kty, crv, x, y } = jwk;
  const publicJwk: JWK = { kty, crv, x, y };
  try {
    const privateKey = (await importJWK({ kty, crv, x, y, d: jwk.d }, "ES256")) as CryptoKey;
    const publicKey = (await importJWK(publicJwk, "ES256")) as CryptoKey;
    const probe = new TextEncoder().encode("keygate signing key check");
    const signature = await crypto.subtle.sign(ES256, privateKey, probe);
    if (!(await crypto.subtle.verify(ES256, publicKey, signature, probe))) throw new Error("d does not belong to x and y");
    const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
    return { kid, privateKey, publicJwk: published(publicJwk, kid) };
  } catch (err) {
    throw new ProblemError(
      "CONFIG_INVALID",
      `The gateway configuration is invalid: ASSERTION_PRIVATE_KEY: not a usable P-256 private key (${(err as Error).message}).`,
    );
  }
}

const published = (jwk: JWK, kid: string): JWK => ({ ...jwk, kid, alg: "ES256", use: "sig" });

/**
 * What /.well-known/jwks.json publishes: the signing key first, then every key of
 * ASSERTION_PUBLIC_KEYS (keys that signed before or will sign next), once each by `kid`.
 */
export async function publishedKeys(config: Config): Promise<JWK[]> {
  const keys = [(await signerFor(config)).publicJwk];
  for (const { kty, crv, x, y, kid } of config.assertionPublicKeys) {
    const id = kid ?? (await calculateJwkThumbprint({ kty, crv, x, y }));
    if (!keys.some((k) => k.kid === id)) keys.push(published({ kty, crv, x, y }, id));
  }
  return keys;
}

export const ASSERTION_TTL_SECONDS = 60;
/** An isolate may hand the same assertion to requests of one key, version and route this long. */
export const ASSERTION_REUSE_SECONDS = 30;

/**
 * Assertions issued, per cached record (so they go when the record leaves the key cache, and a
 * changed key, a new record, gets new ones), then per route and issuer. The issuer is
 * PUBLIC_URL, or without it the request's origin, so each record keeps a few at most.
 */
const issued = new WeakMap<StoredKey, Map<string, { jwt: string; iat: number }>>();
const PER_RECORD = 8;

/**
 * The assertion for this key, route, issuer and plan (the owner's, null: none): a string at once
 * when one can be reused (the hot path).
 */
export function assertionFor(config: Config, key: StoredKey, route: string, issuer: string, plan: string | null): string | Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let forRecord = issued.get(key);
  const slot = `${route}\n${issuer}\n${plan ?? ""}`;
  const reused = forRecord?.get(slot);
  if (reused && now - reused.iat < ASSERTION_REUSE_SECONDS) return reused.jwt;
  if (!forRecord) issued.set(key, (forRecord = new Map()));
  else if (forRecord.size >= PER_RECORD && !reused) forRecord.clear();
  return sign(config, key, route, issuer, plan, now).then((jwt) => {
    forRecord.set(slot, { jwt, iat: now });
    return jwt;
  });
}

async function sign(config: Config, key: StoredKey, route: string, issuer: string, plan: string | null, now: number): Promise<string> {
  const signer = await signerFor(config);
  return new SignJWT({
    kid: key.id,
    scope: key.scopes.join(" "),
    env: key.environment,
    ver: key.version,
    ...(plan ? { plan } : {}),
  })
    .setProtectedHeader({ alg: "ES256", kid: signer.kid, typ: "JWT" })
    .setIssuer(issuer)
    .setAudience(route)
    .setSubject(key.ownerId)
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_TTL_SECONDS)
    .sign(signer.privateKey);
}
