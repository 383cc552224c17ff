/**
 * The scenarios, in the order they run. Each prepares what it needs through the admin API
 * or the gateway itself, then runs one bounded load and reports rps and latency.
 */
import { load } from "./load.mjs";
import { adminClient, createMany, keyBody, malformedKey, unknownKey } from "./keys.mjs";

export const PATH = "/v1/items";
const bearer = (key) => ({ Authorization: `Bearer ${key}` });
/**
 * A client address per key (`CF-Connecting-IP`, as Cloudflare sets it): one client presenting
 * many unknown keys is refused TOO_MANY_INVALID_KEYS, which is a scenario of its own.
 */
const fromClient = (i) => ({ "CF-Connecting-IP": `2001:db8::${(i + 1).toString(16)}` });

/** One GET of the scenarios' path with `key`; answers the status. */
export async function get(url, key, headers = {}) {
  const res = await fetch(url + PATH, { headers: key ? { ...bearer(key), ...headers } : headers });
  await res.arrayBuffer();
  return res.status;
}

/** Sends a request per entry of `keys`, in order, round and round; `clients` gives each key its own address. */
function eachOnce(keys, { clients = false } = {}) {
  let next = 0;
  return [
    {
      method: "GET",
      path: PATH,
      setupRequest: (req) => {
        const i = next++ % keys.length;
        return { ...req, headers: { ...bearer(keys[i]), ...(clients ? fromClient(i) : {}) } };
      },
    },
  ];
}

/** Runs a scenario and adds how many D1 key lookups the keygate isolate made meanwhile. */
async function withD1Reads(cache, scenario) {
  const before = (await cache()).d1Lookups;
  const result = await scenario();
  return { ...result, d1_reads: (await cache()).d1Lookups - before };
}

export function scenarios({ gateway, baseline, floor, floorKey, adminToken, cache, seconds, connections, cpu, keys }) {
  const admin = adminClient(gateway, adminToken);
  const run = (url, expect, requests, extra = {}) => load({ url, seconds, connections, expect, requests, cpu, ...extra });
  const created = [];
  return [
    {
      name: "baseline",
      what: "pass-through worker to the same origin, no checks",
      run: () => run(baseline, 200, [{ method: "GET", path: PATH }]),
    },
    {
      name: "floor",
      what: "the floor (bench/floor.mjs): hash, memory lookup, one DO RPC, identity headers, cached assertion, proxy",
      run: () => run(floor, 200, [{ method: "GET", path: PATH, headers: bearer(floorKey) }]),
    },
    {
      name: "valid_key",
      what: "one valid key, record and assertion warm in the isolate",
      async run() {
        keys.valid ??= (await admin.create(keyBody("valid", 0))).key;
        const key = keys.valid;
        if ((await get(gateway, key)) !== 200) throw new Error("valid key was not proxied");
        return run(gateway, 200, [{ method: "GET", path: PATH, headers: bearer(key) }]);
      },
    },
    {
      name: "valid_key_owner_limits",
      what: "one valid key with its own limit whose owner has a shared limit too: both checked in the one admission call",
      async run() {
        const ownerId = "bench-owner-limits";
        const res = await fetch(`${gateway}/admin/owners/${ownerId}`, {
          method: "PUT",
          headers: admin.headers,
          body: JSON.stringify({ name: "bench owner", ratelimits: [{ name: "day", limit: 1_000_000_000, windowSeconds: 86_400 }] }),
        });
        if (res.status !== 201 && res.status !== 200) throw new Error(`PUT /admin/owners answered ${res.status}: ${await res.text()}`);
        const { key } = await admin.create({ ...keyBody("owner-limits", 0), ownerId });
        const first = await fetch(gateway + PATH, { headers: bearer(key) });
        await first.arrayBuffer();
        if (first.status !== 200 || !first.headers.get("RateLimit-Policy")?.includes('"owner.day"')) throw new Error("the owner's limit was not applied");
        return run(gateway, 200, [{ method: "GET", path: PATH, headers: bearer(key) }]);
      },
    },
    {
      name: "malformed_key",
      what: "a key whose checksum is wrong: 401 before any storage",
      run: () => run(gateway, 401, [{ method: "GET", path: PATH, headers: bearer(malformedKey()) }]),
    },
    {
      name: "unknown_key",
      what: "40 well-formed unknown keys (within the isolate's D1 budget), negative entries warm in the isolate",
      async run() {
        const keys = Array.from({ length: 40 }, () => unknownKey());
        for (const [i, key] of keys.entries()) {
          if ((await get(gateway, key, fromClient(i))) !== 401) throw new Error("unknown key was not refused");
        }
        return run(gateway, 401, eachOnce(keys, { clients: true }));
      },
    },
    {
      name: "forged_keys",
      what: "one client, every request a new well-formed unknown key: 401 until TOO_MANY_INVALID_KEYS, then 429",
      run: () =>
        withD1Reads(cache, () => {
          // its own address: a client refused TOO_MANY_INVALID_KEYS stays refused for a minute
          const attacker = fromClient(0xbad);
          return run(gateway, [401, 429], [{ method: "GET", path: PATH, setupRequest: (req) => ({ ...req, headers: { ...bearer(unknownKey()), ...attacker } }) }]);
        }),
    },
    {
      name: "forged_keys_many_clients",
      what: "every request a new unknown key from a new client: D1 reads stop at the isolate's budget (then 503)",
      run: () =>
        withD1Reads(cache, () => {
          let n = 0;
          const client = () => ({ "CF-Connecting-IP": `2001:db8:f00d::${(++n).toString(16)}` }); // a range no other scenario uses
          const request = (req) => ({ ...req, headers: { ...bearer(unknownKey()), ...client() } });
          return run(gateway, [401, 503], [{ method: "GET", path: PATH, setupRequest: request }]);
        }),
    },
    {
      name: "rate_limited",
      what: "a key whose limit (1 per hour) is spent: 429 from KeyState",
      async run() {
        const { key } = await admin.create({ ...keyBody("limited", 0), ratelimits: [{ name: "hour", limit: 1, windowSeconds: 3600 }] });
        if ((await get(gateway, key)) !== 200 || (await get(gateway, key)) !== 429) throw new Error("limit did not bite");
        return run(gateway, 429, [{ method: "GET", path: PATH, headers: bearer(key) }]);
      },
    },
    {
      name: "admin_create",
      what: "POST /admin/keys, one owner per key; rps = keys created per second",
      run() {
        let n = 0;
        return run(gateway, 201, [
          {
            method: "POST",
            path: "/admin/keys",
            headers: { ...admin.headers },
            setupRequest: (req) => ({ ...req, body: JSON.stringify(keyBody("cold", n++)) }),
            onResponse: (status, body) => status === 201 && created.push(JSON.parse(body).key),
          },
        ]);
      },
    },
    {
      name: "cold_key",
      what: "each request a different valid key not in the isolate cache (KV, KeyState, signing)",
      async run() {
        // The keys admin_create made; creating a key puts it in this isolate's cache, so empty it.
        const keys = created.splice(0);
        const short = connections * 4 - keys.length;
        if (short > 0) keys.push(...(await createMany(admin, "cold-extra", short)));
        const cleared = await cache("clear");
        if (cleared.entries !== 0) throw new Error("the isolate cache did not empty");
        // Each connection builds at most one request ahead, so no key is ever sent twice.
        const result = await run(gateway, 200, eachOnce(keys), { amount: keys.length - connections });
        return { ...result, keys: keys.length };
      },
    },
  ];
}
