import { Hono } from "hono";
import type { AppEnv } from "../context";
import { signerFor } from "./assertion";

export const wellKnown = new Hono<AppEnv>();

/** The public key origins verify `X-Keygate-Assertion` with. */
wellKnown.get("/jwks.json", async (c) => {
  const signer = await signerFor(c.get("services").config);
  c.header("Cache-Control", "public, max-age=300");
  return c.json({ keys: [signer.publicJwk] });
});
