import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { renderMetrics } from "../../src/analytics/prometheus";
import { BOUNDS_MS } from "../../src/store/histogram";
import { emptyMeasures } from "../../src/store/measures";
import { admin, call, createKey } from "./helpers";
import { sleep } from "./gateway-helpers";
import { drainUsage, family, scrape, valueOf } from "./usage-helpers";

describe("GET /admin/metrics", () => {
  it("is Prometheus text a real parser reads: typed families, cumulative buckets ending in +Inf", async () => {
    const { key } = await createKey();
    for (let i = 0; i < 3; i++) expect((await call("/echo", key)).status).toBe(200);
    await drainUsage();
    const families = await scrape();
    expect(Object.fromEntries(families.map((f) => [f.name, f.type]))).toEqual({
      keygate_requests_total: "COUNTER",
      keygate_credits_used_total: "COUNTER",
      keygate_request_bytes_total: "COUNTER",
      keygate_response_bytes_total: "COUNTER",
      keygate_gateway_duration_seconds: "HISTOGRAM",
      keygate_upstream_duration_seconds: "HISTOGRAM",
      keygate_keys: "GAUGE",
    });
    for (const f of families) expect(f.help.length, f.name).toBeGreaterThan(0);
    for (const name of ["keygate_gateway_duration_seconds", "keygate_upstream_duration_seconds"]) {
      const [h] = family(families, name).metrics;
      const bounds = [...BOUNDS_MS.map((ms) => String(ms / 1000)), "+Inf"];
      expect(Object.keys(h.buckets!).sort()).toEqual([...bounds].sort());
      const counts = bounds.map((le) => Number(h.buckets![le]));
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(counts.at(-1)).toBe(Number(h.count));
      expect(Number(h.count)).toBeGreaterThanOrEqual(3);
      expect(Number(h.sum)).toBeGreaterThanOrEqual(0);
    }
    expect(valueOf(families, "keygate_requests_total", { route: "echo", outcome: "OK", status_class: "2xx" })).toBeGreaterThanOrEqual(3);
  });

  it("counts keys by status", async () => {
    const before = await scrape();
    const keys = await Promise.all([createKey(), createKey(), createKey({ expiresIn: 1 })]);
    expect((await admin(`/keys/${keys[0].id}`, { method: "DELETE" })).status).toBe(200);
    await sleep(1100); // the third key expires
    const after = await scrape();
    const delta = (status: string) => valueOf(after, "keygate_keys", { status }) - valueOf(before, "keygate_keys", { status });
    expect({ active: delta("active"), revoked: delta("revoked"), expired: delta("expired") }).toEqual({ active: 1, revoked: 1, expired: 1 });
  });

  it("escapes label values, so any route name reads back as written", () => {
    const route = 'we"ird\\route\nname';
    const text = renderMetrics({
      totals: [{ ...emptyMeasures(), route, outcome: "OK", status: 200, requests: 2 }],
      keys: { active: 0, revoked: 0, expired: 0 },
    });
    const [requests] = parsePrometheusTextFormat(text);
    expect(requests.metrics).toEqual([{ labels: { route, outcome: "OK", status_class: "2xx" }, value: "2" }]);
  });

  it("needs admin:read", async () => {
    const reader = await createKey({ scopes: ["admin:read"] });
    expect((await admin("/metrics", { token: reader.key })).status).toBe(200);
    const consumer = await createKey({ scopes: ["*"] });
    expect((await admin("/metrics", { token: consumer.key })).status).toBe(403);
    expect((await admin("/metrics", { token: "" })).status).toBe(401);
  });
});
