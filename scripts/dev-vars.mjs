// Local secrets for `npm run dev`: creates ADMIN_TOKEN and ASSERTION_PRIVATE_KEY in the
// dev vars file (.dev.vars, gitignored) when they are missing; existing values are kept.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseEnv } from "node:util";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `kgadm_` and 32 uniformly random base62 characters. */
export function generateAdminToken() {
  let body = "";
  while (body.length < 32) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && body.length < 32) body += BASE62[byte % 62]; // 248 = 4 * 62: no modulo bias
    }
  }
  return `kgadm_${body}`;
}

/** An ES256 private JWK with a `kid` (its RFC 7638 thumbprint), as one line of JSON. */
export function generateAssertionJwk() {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  const thumbprint = createHash("sha256")
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest("base64url");
  return JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d, kid: `local-${thumbprint.slice(0, 16)}` });
}

export function readDevVars(path) {
  return existsSync(path) ? parseEnv(readFileSync(path, "utf8")) : {};
}

const GENERATORS = { ADMIN_TOKEN: generateAdminToken, ASSERTION_PRIVATE_KEY: generateAssertionJwk };

/**
 * Makes sure `path` holds a non-empty ADMIN_TOKEN and ASSERTION_PRIVATE_KEY.
 * Returns the file's values and the names it had to create.
 */
export function ensureDevVars(path) {
  let text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const values = parseEnv(text);
  const created = [];
  for (const [name, generate] of Object.entries(GENERATORS)) {
    if (values[name]) continue;
    const value = generate();
    const line = /^[\w.:/-]+$/.test(value) ? `${name}=${value}` : `${name}='${value}'`;
    const empty = new RegExp(`^[ \\t]*(export[ \\t]+)?${name}[ \\t]*=[ \\t]*(''|""|)[ \\t]*$`, "m");
    if (empty.test(text)) text = text.replace(empty, line);
    else text += `${text === "" || text.endsWith("\n") ? "" : "\n"}${line}\n`;
    values[name] = value;
    created.push(name);
  }
  if (created.length > 0) {
    const header = existsSync(path) ? "" : "# Local secrets for `npm run dev` (gitignored). Delete a line to have it made again.\n";
    writeFileSync(path, header + text, { mode: 0o600 });
  }
  return { values, created };
}
