/**
 * Is the in-isolate key cache bounded? Sends N distinct well-formed unknown keys through
 * the gateway (each leaves a negative cache entry) and reads, before, halfway and after:
 * - the keygate isolate's V8 heap after a forced GC (workerd inspector),
 * - the whole workerd process's RSS (/proc), which also holds every other isolate and
 *   workerd's own buffers, so it is warmed first with repeated requests for one key,
 * - the cache's own entry count and byte estimate (src/store/cache.ts memoryCacheStats).
 * KV here is a stub that already holds "no such key" for every key (the entry earlier
 * versions of keygate wrote), so D1 is never asked; each request comes from its own client:
 * the path through the isolate is the real one, minus local KV/D1 I/O, which on a 2-core
 * machine manages only about a hundred distinct lookups a second.
 */
import { isolateInspector, rssBytes, workerdPid } from "./inspect.mjs";
import { load, round } from "./load.mjs";
import { unknownKey } from "./keys.mjs";
import { startGateway } from "./gateway.mjs";

const MiB = 1024 * 1024;
let clients = 0;
const nextClient = () => `2001:db8:${((++clients >> 16) & 0xffff).toString(16)}::${(clients & 0xffff).toString(16)}`;
export const MEMORY_LIMIT_MIB = 64;
const PATH = "/v1/items";

export async function measureMemory({ scriptPath, originUrl, adminToken, keys, connections, log }) {
  const g = await startGateway({ scriptPath, originUrl, adminToken, memory: true });
  try {
    const poke = () => fetch(`${g.gateway}/healthz`).then((res) => res.arrayBuffer());
    const inspector = await isolateInspector(g.inspectorUrl, "keygate", poke);
    const pid = await workerdPid();
    const send = (amount, key) =>
      load({
        url: g.gateway,
        seconds: 600,
        amount,
        connections,
        expect: 401,
        requests: [
          {
            method: "GET",
            path: PATH,
            // each request from its own client, so the per-client TOO_MANY_INVALID_KEYS never answers instead
            setupRequest: (req) => ({ ...req, headers: { Authorization: `Bearer ${key()}`, "CF-Connecting-IP": nextClient() } }),
          },
        ],
      });
    const snapshot = async () => {
      const heap = await inspector.heap();
      const rss = await rssBytes(pid);
      return {
        heap_used_mib: round(heap.usedBytes / MiB),
        heap_reserved_mib: round(heap.totalBytes / MiB),
        external_mib: round(heap.externalBytes / MiB),
        /** what the limit is checked against: reserved heap plus memory outside it */
        isolate_mib: round((heap.totalBytes + heap.externalBytes) / MiB),
        workerd_rss_mib: rss === null ? null : round(rss / MiB),
        cache: await g.cache(),
      };
    };

    const warmup = Math.min(20_000, keys);
    log(`memory: warming workerd with ${warmup} requests for one unknown key`);
    const one = unknownKey();
    await send(warmup, () => one);
    const before = await snapshot();
    const half = Math.floor(keys / 2);
    log(`memory: sending ${keys} distinct unknown keys`);
    const first = await send(half, unknownKey);
    const halfway = await snapshot();
    const second = await send(keys - half, unknownKey);
    const after = await snapshot();
    inspector.close();
    const seconds = first.seconds + second.seconds;
    return {
      distinct_keys: first.requests + second.requests,
      rps: round((first.requests + second.requests) / seconds),
      before,
      halfway,
      after,
      limit_mib: MEMORY_LIMIT_MIB,
      within_limit: Math.max(halfway.isolate_mib, after.isolate_mib) < MEMORY_LIMIT_MIB,
      method:
        "keygate isolate's V8 heap after a forced GC (inspector HeapProfiler.collectGarbage, Runtime.getHeapUsage); " +
        "the limit is checked against isolate_mib = reserved heap + embedder and ArrayBuffer memory; whole workerd process RSS from /proc/<pid>/status, after " +
        "warming it with repeated requests for one key; cache entries and byte estimate read inside the isolate. " +
        "KV is a stub answering 'no such key', so each key takes the real negative-cache path without local KV/D1 I/O.",
    };
  } finally {
    await g.dispose();
  }
}
