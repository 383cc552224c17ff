// Readiness for `npm run dev`: is a port free, does the gateway answer, and what to try next.
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** True when something already listens on host:port. */
export function portInUse(port, host) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (err) => resolve(err.code === "EADDRINUSE"));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}

/**
 * Polls `${base}/healthz` until keygate answers. Resolves { ok: true }, or { ok: false, problem }
 * when keygate answers with a problem (a bad config), or { ok: false } if `gaveUp()` or 3 minutes pass.
 */
export async function waitForGateway(base, gaveUp) {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok && (await res.json()).ok === true) return { ok: true };
      if (res.headers.get("Content-Type")?.startsWith("application/problem+json")) {
        return { ok: false, problem: await res.json() };
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return { ok: false };
}

/** What the CLI needs to be told to reach this server, beyond its defaults (127.0.0.1:8787, .dev.vars). */
function cliSetup({ base, adminPath, token, devVarsToken }) {
  const url = base === "http://127.0.0.1:8787" && adminPath === "/admin" ? [] : [`  export KEYGATE_URL=${base}${adminPath}`];
  const auth = token && token !== devVarsToken ? [`  export KEYGATE_ADMIN_TOKEN=${token}`] : [];
  return [...url, ...auth];
}

/** The README's first steps, with this server's address and admin token filled in. */
export function nextSteps({ base, adminPath, token, devVarsToken }) {
  const admin = `${base}${adminPath}`;
  const auth = `-H "Authorization: Bearer ${token ?? "$ADMIN_TOKEN"}"`;
  const json = `-H "Content-Type: application/json"`;
  return [
    `keygate is ready on ${base}`,
    "",
    `Dashboard: ${admin}/ui`,
    token ? `  sign in with the admin token ${token}` : "  sign in with your ADMIN_TOKEN (from .dev.vars or the --var/--env-file you passed)",
    "",
    "Or try it from a terminal:",
    "",
    "  # reads one field of the JSON on stdin (jq -r .field works too)",
    `  field() { node -p "JSON.parse(require('fs').readFileSync(0)).$1"; }`,
    ...(token ? [] : ["  # ADMIN_TOKEN: yours, from .dev.vars or the --var/--env-file you passed", "  export ADMIN_TOKEN=..."]),
    "",
    "  # 1. create a key; the answer holds the key itself, shown this once",
    `  CREATED=$(curl -s -X POST ${admin}/keys ${auth} ${json} \\`,
    `    -d '{"name":"First key","ownerId":"acct_42","scopes":["posts:read"]}')`,
    `  echo "$CREATED"; KEY=$(echo "$CREATED" | field key); KEY_ID=$(echo "$CREATED" | field id)`,
    "",
    "  # 2. call the demo origin through the gateway: it echoes the X-Keygate-* headers it got",
    `  curl -s "${base}/hello?name=world" -H "Authorization: Bearer $KEY"`,
    "",
    "  # 3. list keys, newest first",
    `  curl -s ${admin}/keys ${auth}`,
    "",
    "  # 4. rotate: a new key takes over the same limits; the old one stops working (no grace period)",
    `  ROTATED=$(curl -s -X POST ${admin}/keys/$KEY_ID/rotate ${auth} ${json} -d '{"gracePeriodSeconds":0}')`,
    `  echo "$ROTATED"; KEY=$(echo "$ROTATED" | field key); KEY_ID=$(echo "$ROTATED" | field id)`,
    "",
    "  # 5. revoke it; the very next call is refused with 401 KEY_REVOKED",
    `  curl -s -X DELETE ${admin}/keys/$KEY_ID ${auth}`,
    `  curl -s "${base}/hello" -H "Authorization: Bearer $KEY"`,
    "",
    "  # 6. usage, about 10 s after the calls: this customer's keys, then one key's requests",
    `  curl -s "${admin}/usage?ownerId=acct_42&groupBy=key" ${auth}`,
    `  curl -s ${admin}/keys/$KEY_ID/requests ${auth}`,
    "",
    "  # the same with the CLI (npx keygate --help lists every command)",
    ...cliSetup({ base, adminPath, token, devVarsToken }),
    '  npx keygate keys create --name "CLI key" --owner acct_42 --scope posts:read',
    "  npx keygate keys list",
    "",
    "  # the key holders' portal: a one-use link that opens acct_42's own keys in a browser",
    "  npx keygate portal link acct_42",
    "",
    `Admin API reference: ${admin}/docs    Stop: Ctrl-C`,
    "",
  ].join("\n");
}

export function printNextSteps(options) {
  console.log(`\n${nextSteps(options)}`);
}
