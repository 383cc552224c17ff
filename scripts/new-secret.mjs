// Prints a fresh secret for deploying, or the public JWK Set of signing keys:
//   node scripts/new-secret.mjs admin-token | npx wrangler secret put ADMIN_TOKEN
//   node scripts/new-secret.mjs assertion-key | npx wrangler secret put ASSERTION_PRIVATE_KEY
//   node scripts/new-secret.mjs public-keys next.jwk [more.jwk ...]   (for ASSERTION_PUBLIC_KEYS)
import { readFileSync } from "node:fs";
import { generateAdminToken, generateAssertionJwk } from "./dev-vars.mjs";

/** `{ keys: [...] }` of the files' public parts: private parts (`d`) never leave the files. */
function publicKeys(files) {
  if (files.length === 0) throw new Error("name at least one JWK file");
  const keys = files.map((file) => {
    const { kty, crv, x, y, kid } = JSON.parse(readFileSync(file, "utf8"));
    return { kty, crv, x, y, ...(kid ? { kid } : {}) };
  });
  return JSON.stringify({ keys });
}

const makers = {
  "admin-token": generateAdminToken,
  "assertion-key": generateAssertionJwk,
  "public-keys": () => publicKeys(process.argv.slice(3)),
};
const make = makers[process.argv[2]];
if (!make) {
  console.error(`usage: node scripts/new-secret.mjs ${Object.keys(makers).join("|")} [FILE...]`);
  process.exit(2);
}
try {
  process.stdout.write(make());
} catch (err) {
  console.error(`new-secret: ${err.message}`);
  process.exit(1);
}
