/**
 * `npm exec -- node bench/rss-control.mjs`: what grows workerd's RSS during the memory run.
 * Runs the memory run's setup twice: once as `npm run bench` does (each key's KV read is an
 * RPC to the stub worker), once with the KV read answered inside keygate's isolate (a
 * patch at bundle time). Same keys, same cache; only the cross-worker call differs.
 *
 *   --keys N   distinct keys per step, three steps (default 25000)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomToken, startGateway, startOrigin } from "./gateway.mjs";
import { isolateInspector, rssBytes, workerdPid } from "./inspect.mjs";
import { unknownKey } from "./keys.mjs";
import { load } from "./load.mjs";
import { bundleVariant } from "./variant-build.mjs";

const { values: args } = parseArgs({ options: { keys: { type: "string" } } });
const step = Number(args.keys ?? 25_000);
const MiB = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const RUNS = {
  "KV read over RPC to the stub worker (as in npm run bench)": {},
  "KV read answered inside the isolate (no RPC)": {
    "store/cache.ts": [[/await kv\.get\(KV_PREFIX \+ hash, "text"\)/, '"null"']],
  },
};

const { child: origin, url: originUrl } = await startOrigin();
const outdir = await mkdtemp(join(tmpdir(), "keygate-rss-"));
try {
  for (const [name, patches] of Object.entries(RUNS)) {
    const scriptPath = await bundleVariant(patches, join(outdir, String(Object.keys(patches).length)));
    const g = await startGateway({ scriptPath, originUrl, adminToken: randomToken(), memory: true });
    try {
      const pid = await workerdPid();
      const inspector = await isolateInspector(g.inspectorUrl, "keygate", () => fetch(`${g.gateway}/healthz`).then((r) => r.arrayBuffer()));
      const send = (amount, key) =>
        load({
          url: g.gateway,
          seconds: 600,
          amount,
          connections: 50,
          expect: 401,
          requests: [{ method: "GET", path: "/v1/items", setupRequest: (req) => ({ ...req, headers: { Authorization: `Bearer ${key()}` } }) }],
        });
      const show = async (label) => {
        const heap = await inspector.heap();
        const cache = await g.cache();
        console.log(`  ${label.padEnd(28)} workerd RSS ${MiB(await rssBytes(pid))} MiB, isolate heap ${MiB(heap.usedBytes)} MiB, cache ${cache.entries} entries`);
      };
      console.log(name);
      const one = unknownKey();
      await send(20_000, () => one);
      await show("after 20000 x one key");
      for (let i = 1; i <= 3; i++) {
        await send(step, unknownKey);
        await show(`after ${i * step} distinct keys`);
      }
      inspector.close();
    } finally {
      await g.dispose();
    }
  }
} finally {
  origin.disconnect();
  await rm(outdir, { recursive: true, force: true });
}
