import type { JWTPayload } from "jose";
import type { AdminAccessConfig, AdminOidcConfig, Role } from "../config";
import { ProblemError } from "../errors";
import { ASYMMETRIC, verifyToken } from "./jwt";
import { roleOf } from "./roles";

/** An operator signed in with their organisation's identity. */
export interface OperatorIdentity {
  email: string;
  role: Role;
}

/** The certs endpoint and issuer of a Cloudflare Access team (`teamDomain` is already an origin). */
export const accessCertsUrl = (teamDomain: string): string => `${teamDomain}/cdn-cgi/access/certs`;

/** `Authorization: Bearer <JWT>` from ADMIN_OIDC's issuer. */
export async function operatorFromOidc(token: string, oidc: AdminOidcConfig): Promise<OperatorIdentity> {
  const claims = await verifyToken(token, { issuer: oidc.issuer, jwksUrl: oidc.jwksUrl, audience: oidc.audience, algorithms: ASYMMETRIC });
  return mapped(claims, oidc.emailClaim, oidc.roles, "ADMIN_OIDC");
}

/**
 * Cloudflare Access's `Cf-Access-Jwt-Assertion`: RS256, signed by a key of
 * `https://<teamDomain>/cdn-cgi/access/certs`, issued by the team domain, for the application's
 * AUD tag.
 */
export async function operatorFromAccess(assertion: string, access: AdminAccessConfig): Promise<OperatorIdentity> {
  const claims = await verifyToken(
    assertion,
    { issuer: access.teamDomain, jwksUrl: accessCertsUrl(access.teamDomain), audience: access.aud, algorithms: ["RS256"] },
    "The Cloudflare Access assertion",
  );
  return mapped(claims, "email", access.roles, "ADMIN_ACCESS");
}

/** The verified identity's role, or 403: a token that names no email, an unverified one, or one no entry maps. */
function mapped(claims: JWTPayload, emailClaim: string, roles: Readonly<Record<string, Role>>, source: string): OperatorIdentity {
  const email = claims[emailClaim];
  if (typeof email !== "string" || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) {
    throw new ProblemError("FORBIDDEN", `The token names no email address in its ${emailClaim} claim, so no role can be given to it.`);
  }
  if (claims.email_verified === false) {
    throw new ProblemError("FORBIDDEN", `The identity provider says ${email} is not verified (email_verified is false).`);
  }
  const role = roleOf(email, roles);
  if (!role) throw new ProblemError("FORBIDDEN", `${email} is not given a role by ${source}.roles; ask an admin of this gateway to add it.`);
  return { email: email.toLowerCase(), role };
}
