import { generateKeyPairSync } from "node:crypto";

/** A fresh ES256 signing key per test run, in the JWK form ASSERTION_PRIVATE_KEY takes. */
export function testSigningJwk(kid = "test-key"): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid });
}
