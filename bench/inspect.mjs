/**
 * Looking inside the running gateway: the V8 heap or CPU profile of one Worker's isolate,
 * over workerd's inspector protocol, and the whole workerd process's RSS and CPU time,
 * from /proc.
 */
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Connects to one isolate's inspector (workerd names them `core:user:<worker>`). workerd
 * handles inspector messages when the isolate next runs, so `poke` (a cheap request to the
 * worker) is sent every 50 ms until the answer arrives.
 */
export async function isolateInspector(inspectorUrl, workerName, poke) {
  const ws = new WebSocket(`${inspectorUrl.href.replace(/\/$/, "")}/core:user:${workerName}`);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error(`inspector for ${workerName} unreachable`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data));
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  const send = async (method, params = {}) => {
    const id = nextId++;
    const answer = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    ws.send(JSON.stringify({ id, method, params }));
    let answered = false;
    answer.finally(() => (answered = true)).catch(() => undefined);
    for (let tries = 0; !answered; tries++) {
      if (tries === 200) throw new Error(`inspector did not answer ${method}`);
      await Promise.race([answer, poke().then(() => sleep(50))]);
    }
    return answer;
  };
  return {
    /**
     * After a full GC: bytes of live JS heap (V8's usedSize), the heap V8 has reserved
     * (totalSize), and memory held outside the JS heap (embedder objects, ArrayBuffer stores).
     */
    async heap() {
      await send("HeapProfiler.collectGarbage");
      const usage = await send("Runtime.getHeapUsage");
      return {
        usedBytes: usage.usedSize,
        totalBytes: usage.totalSize,
        externalBytes: (usage.embedderHeapUsedSize ?? 0) + (usage.backingStorageSize ?? 0),
      };
    },
    /** Samples the isolate's CPU while `during` runs; returns the V8 profile. */
    async cpuProfile(during, intervalUs = 200) {
      await send("Profiler.enable");
      await send("Profiler.setSamplingInterval", { interval: intervalUs });
      await send("Profiler.start");
      const result = await during();
      const { profile } = await send("Profiler.stop");
      return { result, profile };
    },
    close: () => ws.close(),
  };
}

/** The workerd process Miniflare started: a child of this process (Linux /proc). */
export async function workerdPid(parent = process.pid) {
  for (const entry of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const match = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
    if (match && match[1] === "workerd" && Number(match[2]) === parent) return Number(entry);
  }
  return null;
}

/** CPU time (user + system) the process has used so far, in ms; Linux counts in 1/100 s. */
export async function cpuMs(pid) {
  if (pid === null) return null;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.length > 13 ? (Number(fields[11]) + Number(fields[12])) * 10 : null;
}

export async function rssBytes(pid) {
  if (pid === null) return null;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : null;
}
