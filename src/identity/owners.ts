import type { PortalOidcConfig } from "../config";
import { ProblemError } from "../errors";
import { ASYMMETRIC, verifyToken } from "./jwt";

/** What an ownerId may be (DESIGN.md, "Key record"): 1..200 printable ASCII characters, no space at either end. */
export const OWNER_ID = /^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$/;

/**
 * The owner a token from the operator's identity provider acts as (PORTAL_OIDC): the claim
 * `ownerClaim` names it (default `sub`). A verified token whose claim names no owner is 403.
 */
export async function ownerFromToken(token: string, oidc: PortalOidcConfig): Promise<string> {
  const claims = await verifyToken(token, { issuer: oidc.issuer, jwksUrl: oidc.jwksUrl, audience: oidc.audience, algorithms: ASYMMETRIC });
  const owner = claims[oidc.ownerClaim];
  if (typeof owner !== "string" || !OWNER_ID.test(owner)) {
    throw new ProblemError("FORBIDDEN", `The token names no owner in its ${oidc.ownerClaim} claim (it must be 1-200 printable ASCII characters).`);
  }
  return owner;
}
