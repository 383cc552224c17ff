/** The targets keygate aims for (checked and printed, never asserted) and the printed report. */
import { GEO_TARGETS } from "./geo.mjs";
import { withinNoise } from "./webhooks.mjs";

/** Each target: what it says, the figure it is judged on, and whether that figure meets it. */
export const TARGETS = [
  { says: "valid_key rps >= 0.95 x floor", figure: (t) => t.valid_key.ratio_to_floor, met: (v) => v >= 0.95 },
  { says: "valid_key adds <= 1 ms at p50 (300 req/s offered)", figure: (t) => t.valid_key_latency.added_p50_ms, met: (v) => v <= 1, unit: "ms" },
  { says: "valid_key adds <= 3 ms at p99 (300 req/s offered)", figure: (t) => t.valid_key_latency.added_p99_ms, met: (v) => v <= 3, unit: "ms" },
  {
    says: "valid_key_owner_limits costs at most 0.05 of the ratio against valid_key",
    figure: (t) => t.valid_key_owner_limits.ratio_drop,
    met: (v) => v <= 0.05,
  },
  { says: "malformed_key rps >= baseline", figure: (t) => t.malformed_key.ratio_to_baseline, met: (v) => v >= 1 },
  { says: "unknown_key rps >= baseline", figure: (t) => t.unknown_key.ratio_to_baseline, met: (v) => v >= 1 },
  { says: "forged_keys rps >= baseline", figure: (t) => t.forged_keys.ratio_to_baseline, met: (v) => v >= 1 },
  { says: "rate_limited rps >= 0.90 x baseline", figure: (t) => t.rate_limited.ratio_to_baseline, met: (v) => v >= 0.9 },
  { says: "valid_key rps >= 0.90 x baseline (the first target, before the floor was measured)", figure: (t) => t.valid_key.ratio_to_baseline, met: (v) => v >= 0.9 },
  {
    says: "valid_key with a webhook endpoint within noise of the same run without (drop's 95% interval reaches 0, median drop <= 0.02)",
    figure: (_table, _memory, webhooks) => webhooks.valid_key.ratio_drop,
    met: (_value, _memory, _table, webhooks) => withinNoise(webhooks.valid_key),
  },
  {
    says: "rate_limited with a webhook endpoint within noise of the same run without (drop's 95% interval reaches 0, median drop <= 0.02)",
    figure: (_table, _memory, webhooks) => webhooks.rate_limited.ratio_drop,
    met: (_value, _memory, _table, webhooks) => withinNoise(webhooks.rate_limited),
  },
  {
    says: "100,000 distinct keys keep keygate's isolate under 64 MiB",
    figure: (_, memory) => Math.max(memory.halfway.isolate_mib, memory.after.isolate_mib),
    met: (v, memory) => memory.within_limit && memory.distinct_keys >= 100_000,
    unit: "MiB",
  },
];

export const checkTargets = (table, memory, webhooks) =>
  [...TARGETS, ...GEO_TARGETS].map(({ says, figure, met, unit }) => {
    const value = figure(table, memory, webhooks);
    return { target: says, ratio: unit ? null : value, value, ...(unit ? { unit } : {}), met: met(value, memory, table, webhooks) };
  });

export function printLatency(l) {
  const row = (name, r) =>
    `  ${name.padEnd(10)} p50 ${r.p50_ms.toFixed(2)} ms   p99 ${r.p99_ms.toFixed(2)} ms   p99.9 ${r.p999_ms.toFixed(2)} ms   over 10 ms: ${r.slow}`;
  console.log(`latency at ${l.offered_rps} requests/s offered (open loop, ${l.requests} requests each):`);
  console.log([row("baseline", l.baseline), row("floor", l.floor), row("valid_key", l)].join("\n"));
  console.log(`  valid_key adds ${l.added_p50_ms.toFixed(2)} ms at p50 and ${l.added_p99_ms.toFixed(2)} ms at p99 to the baseline`);
  console.log("");
}

/**
 * The results table; `cpu` adds workerd's CPU ms per request where it was measured, and the
 * forged-key scenarios show the D1 reads they caused.
 */
export function printTable(table, cpu = {}) {
  const rows = [["scenario", "rps", "p50 ms", "p99 ms", "x baseline", "x floor", "workerd CPU ms/req", "D1 reads"]];
  for (const [name, r] of Object.entries(table)) {
    const ms = cpu[name] ?? null;
    rows.push([
      name,
      r.rps.toFixed(0),
      r.p50_ms.toFixed(1),
      r.p99_ms.toFixed(1),
      r.ratio_to_baseline.toFixed(2),
      r.ratio_to_floor.toFixed(2),
      ms === null ? "-" : ms.toFixed(2),
      r.d1_reads === undefined ? "-" : String(r.d1_reads),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log("");
  for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  "));
  console.log("");
}

export function printTargets(targets) {
  for (const t of targets) console.log(`${t.met ? "met   " : "MISSED"}  ${t.target} (measured ${t.value.toFixed(2)}${t.unit ? ` ${t.unit}` : ""})`);
}

export function printMemory(m) {
  const line = (label, s) =>
    `  ${label.padEnd(8)} isolate ${s.isolate_mib} MiB (heap ${s.heap_used_mib} used / ${s.heap_reserved_mib} reserved, ` +
    `${s.external_mib} outside), ` +
    `workerd RSS ${s.workerd_rss_mib ?? "?"} MiB, key cache ${s.cache.entries} entries (~${(s.cache.bytes / 1024 / 1024).toFixed(2)} MiB est.), ` +
    `unknown keys ${s.cache.unknownEntries} (~${(s.cache.unknownBytes / 1024 / 1024).toFixed(2)} MiB est.)`;
  console.log(
    `${m.within_limit ? "met   " : "MISSED"}  ${m.distinct_keys} distinct unknown keys keep keygate's isolate under ` +
      `${m.limit_mib} MiB (${m.rps} keys/s)`,
  );
  console.log([line("before", m.before), line("halfway", m.halfway), line("after", m.after)].join("\n"));
  console.log("");
}
