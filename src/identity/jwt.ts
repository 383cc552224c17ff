import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { ProblemError } from "../errors";

/**
 * Every JSON Web Token keygate accepts is checked here, whoever issued it: an operator's identity
 * provider (ADMIN_OIDC), Cloudflare Access (ADMIN_ACCESS) or the identity provider of the
 * operator's own users (PORTAL_OIDC). The signing keys come from the issuer's JWKS, fetched once
 * and kept per isolate, and fetched again when a token names a key (`kid`) the set lacks.
 */

export interface TrustedIssuer {
  /** the exact `iss` the tokens carry */
  issuer: string;
  /** where the issuer publishes its public keys (a JWK Set) */
  jwksUrl: string;
  /** the `aud` the tokens must carry (one of them, when a list) */
  audience: string | string[];
  /** the signature algorithms accepted: asymmetric only, so no `none` and no HMAC keyed with a public key */
  algorithms: readonly string[];
}

/** Every asymmetric JWS algorithm: an OIDC provider signs with one of these. */
export const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;

/** How long a fetched key set is used before it is fetched again. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/**
 * A token naming a key the set lacks fetches the set again, at most once per this long per
 * isolate: an issuer that rotated its keys is followed within seconds, and a flood of made-up
 * `kid`s costs the issuer at most one request per isolate per period.
 */
export const JWKS_COOLDOWN_MS = 5_000;
/** A key set that does not arrive within this long counts as unavailable (503), never as accepted. */
export const JWKS_TIMEOUT_MS = 5_000;
/** Clocks disagree a little: `exp` and `nbf` are judged with this much leeway. */
export const CLOCK_TOLERANCE_SECONDS = 30;

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** One key set per JWKS URL per isolate, shared by every request. */
function keySetOf(url: string) {
  let set = keySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), {
      cacheMaxAge: JWKS_MAX_AGE_MS,
      cooldownDuration: JWKS_COOLDOWN_MS,
      timeoutDuration: JWKS_TIMEOUT_MS,
    });
    keySets.set(url, set);
  }
  return set;
}

/** jose's errors that mean the issuer's keys could not be had, rather than a token that fails. */
const KEYS_UNAVAILABLE = new Set(["ERR_JOSE_GENERIC", "ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID"]);

/** Why jose refused a token, in words that never quote the token. */
function refusal(err: errors.JOSEError, what: string): string {
  if (err instanceof errors.JWTExpired) return `${what} has expired.`;
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return `${what} is not valid yet (nbf).`;
    if (err.claim === "iss") return `${what} was not issued by the configured issuer.`;
    if (err.claim === "aud") return `${what} is not meant for keygate (aud).`;
    return `${what} fails the ${err.claim} check.`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return `${what} is signed with an algorithm keygate does not accept.`;
  if (err instanceof errors.JWKSNoMatchingKey) return `No signing key of the issuer matches ${what.toLowerCase()} (kid).`;
  if (err instanceof errors.JWKSMultipleMatchingKeys) return `${what} names no kid and the issuer has several keys.`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return `${what}'s signature does not verify.`;
  return `${what} is not a valid signed JWT.`;
}

/**
 * The token's claims once its signature, issuer, audience, expiry and not-before are checked.
 * A token that fails is 401 UNAUTHORIZED; keys that cannot be fetched (the issuer is down,
 * answers something else than a key set, or too late) are 503 GATEWAY_UNAVAILABLE: never a 500,
 * and never accepted. Nothing here logs or returns the token.
 */
export async function verifyToken(token: string, trusted: TrustedIssuer, what = "The token"): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, keySetOf(trusted.jwksUrl), {
      issuer: trusted.issuer,
      audience: trusted.audience,
      algorithms: [...trusted.algorithms],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["exp"],
    });
    return payload;
  } catch (err) {
    if (!(err instanceof errors.JOSEError) || KEYS_UNAVAILABLE.has(err.code)) {
      console.warn(JSON.stringify({ level: "warn", msg: "the issuer's signing keys could not be fetched", jwksUrl: trusted.jwksUrl, error: String(err) }));
      throw new ProblemError("GATEWAY_UNAVAILABLE", "The identity provider's signing keys cannot be fetched right now, so no token can be checked; try again shortly.", {
        headers: { "Retry-After": "5" },
      });
    }
    throw new ProblemError("UNAUTHORIZED", refusal(err, what));
  }
}

/** Three base64url parts: what a compact JWS looks like (the third may be empty only for `alg: none`, refused later). */
export const looksLikeJwt = (token: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
