// Prints a fresh secret for deploying: `node scripts/new-secret.mjs admin-token | npx wrangler secret put ADMIN_TOKEN`,
// `node scripts/new-secret.mjs assertion-key | npx wrangler secret put ASSERTION_PRIVATE_KEY`.
import { generateAdminToken, generateAssertionJwk } from "./dev-vars.mjs";

const makers = { "admin-token": generateAdminToken, "assertion-key": generateAssertionJwk };
const make = makers[process.argv[2]];
if (!make) {
  console.error(`usage: node scripts/new-secret.mjs ${Object.keys(makers).join("|")}`);
  process.exit(2);
}
process.stdout.write(make());
