/** The targets keygate aims for (checked and printed, never asserted) and the printed report. */

export const TARGETS = [
  { scenario: "valid_key", min: 0.9, says: "valid_key rps >= 0.90 x baseline" },
  { scenario: "malformed_key", min: 1, says: "malformed_key rps >= baseline" },
  { scenario: "unknown_key", min: 1, says: "unknown_key rps >= baseline" },
  { scenario: "forged_keys", min: 1, says: "forged_keys rps >= baseline" },
];

export const checkTargets = (table) =>
  TARGETS.map(({ scenario, min, says }) => ({
    target: says,
    ratio: table[scenario].ratio_to_baseline,
    met: table[scenario].ratio_to_baseline >= min,
  }));

/**
 * The results table; `cpu` adds workerd's CPU ms per request where it was measured, and the
 * forged-key scenarios show the D1 reads they caused.
 */
export function printTable(table, cpu = {}) {
  const rows = [["scenario", "rps", "p50 ms", "p99 ms", "x baseline", "workerd CPU ms/req", "D1 reads"]];
  for (const [name, r] of Object.entries(table)) {
    const ms = cpu[name] ?? null;
    rows.push([
      name,
      r.rps.toFixed(0),
      r.p50_ms.toFixed(1),
      r.p99_ms.toFixed(1),
      r.ratio_to_baseline.toFixed(2),
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
  for (const t of targets) console.log(`${t.met ? "met   " : "MISSED"}  ${t.target} (measured ${t.ratio.toFixed(2)})`);
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
