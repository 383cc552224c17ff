import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import { BASE, createKey } from "./helpers";
import { echoed, expectProblem, gatewayWith, getRecord } from "./gateway-helpers";

/**
 * The signing key (DESIGN.md, "What the origin receives"): a key that is not a usable P-256
 * private JWK is CONFIG_INVALID before anything happens, never a failure after a request was
 * charged; the JWKS publishes ASSERTION_PUBLIC_KEYS beside it, so signing keys rotate without
 * breaking origins.
 */

async function p256(kid: string): Promise<{ priv: JsonWebKey & { kid: string }; pub: JsonWebKey & { kid: string } }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const priv = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const { kty, crv, x, y } = priv;
  return { priv: { kty, crv, x, y, d: priv.d, kid }, pub: { kty, crv, x, y, kid } };
}

describe("ASSERTION_PRIVATE_KEY", () => {
  it("a private part that does not belong to the public part is CONFIG_INVALID on every request, and nothing is charged", async () => {
    const a = await p256("a");
    const b = await p256("b");
    const broken = gatewayWith({ ASSERTION_PRIVATE_KEY: JSON.stringify({ ...a.priv, d: b.priv.d }) });
    const created = await createKey({ credits: { remaining: 3 } });
    for (const path of ["/echo", "/.well-known/jwks.json", "/admin/keys"]) {
      const problem = await expectProblem(await broken.call(path, created.key), 500, "CONFIG_INVALID");
      expect(problem.detail).toContain("ASSERTION_PRIVATE_KEY");
      expect(problem.detail).not.toContain(String(b.priv.d));
    }
    expect((await getRecord(created.id)).credits?.remaining).toBe(3);
  });

  it("coordinates that are not 32 bytes are CONFIG_INVALID naming the field", async () => {
    const a = await p256("a");
    const broken = gatewayWith({ ASSERTION_PRIVATE_KEY: JSON.stringify({ ...a.priv, x: "AAAA" }) });
    const problem = await expectProblem(await broken.call("/echo", null), 500, "CONFIG_INVALID");
    expect(problem.detail).toMatch(/ASSERTION_PRIVATE_KEY\.x/);
  });
});

describe("ASSERTION_PUBLIC_KEYS", () => {
  it("the JWKS publishes the signing key and every listed key, once each; assertions verify against it", async () => {
    const signing = await p256("next");
    const previous = await p256("previous");
    const gateway = gatewayWith({
      ASSERTION_PRIVATE_KEY: JSON.stringify(signing.priv),
      ASSERTION_PUBLIC_KEYS: JSON.stringify({ keys: [previous.pub, signing.pub] }),
    });
    const jwks = (await (await gateway.call("/.well-known/jwks.json", null)).json()) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toEqual(["next", "previous"]);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect("d" in key).toBe(false);
    }
    const { key } = await createKey();
    const echo = await echoed(await gateway.call("/echo", key));
    const assertion = String(echo.headers["x-keygate-assertion"]);
    const { protectedHeader } = await jwtVerify(assertion, createLocalJWKSet(jwks), { issuer: BASE, audience: "echo" });
    expect(protectedHeader.kid).toBe("next");
  });

  it("a private key in the public set, or a set that is not a JWK Set, is CONFIG_INVALID", async () => {
    const other = await p256("other");
    for (const value of [JSON.stringify({ keys: [other.priv] }), JSON.stringify([other.pub]), "not json"]) {
      const problem = await expectProblem(await gatewayWith({ ASSERTION_PUBLIC_KEYS: value }).call("/echo", null), 500, "CONFIG_INVALID");
      expect(problem.detail).toContain("ASSERTION_PUBLIC_KEYS");
    }
  });
});
