import { Hono } from "hono";
import type { AppEnv } from "../context";
import { publishedKeys } from "./assertion";
import { secretScanningReport } from "./secret-scanning";

export const wellKnown = new Hono<AppEnv>();

/** The public keys origins verify `X-Keygate-Assertion` with, across a rotation of the signing key. */
wellKnown.get("/jwks.json", async (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.json({ keys: await publishedKeys(c.get("services").config) });
});

/** GitHub's secret-scanning partner reports (docs/events.md, "Leaked keys"). */
wellKnown.post("/keygate/secret-scanning/github", secretScanningReport);
