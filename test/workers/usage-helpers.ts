import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { expect } from "vitest";
import { usageBuffer } from "../../src/analytics/buffer";
import type { components } from "../../client/openapi";
import type { RecordedRequest } from "../../src/analytics/writer";
import { admin } from "./helpers";

/** Writes everything this isolate's usage buffer holds, as its timer would within USAGE_FLUSH_MS. */
export async function drainUsage(): Promise<void> {
  expect(await usageBuffer().flush(), "usage buffer written to D1").toBe(true);
}

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as T;
}

/** The answers as the admin API's document types them (client/openapi.d.ts). */
type Schemas = components["schemas"];
export type KeyUsage = Schemas["KeyUsage"];
export type Usage = Schemas["Usage"];
export type Figures = Schemas["UsageCounts"];
export type LogEntry = Schemas["RequestLogEntry"];

export const keyUsage = async (id: string, query = "") => json<KeyUsage>(await admin(`/keys/${id}/usage${query}`));
export const usage = async (query = "") => json<Usage>(await admin(`/usage${query}`));
export const requestLog = async (id: string, query = "") =>
  json<{ data: LogEntry[]; nextCursor: string | null }>(await admin(`/keys/${id}/requests${query}`));

/** The figures of a group, or a failure naming the groups there are. */
export function group(answer: Usage, name: string): Figures {
  const found = answer.data.find((d) => d.group === name);
  expect(found, `group ${JSON.stringify(name)} among ${JSON.stringify(answer.data.map((d) => d.group))}`).toBeDefined();
  return found!;
}

type Family = ParsedFamily;

/** /admin/metrics as a real Prometheus text-format parser reads it. */
export async function scrape(token?: string): Promise<Family[]> {
  const res = await admin("/metrics", { token });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get("Content-Type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheusTextFormat(text);
}

export function family(families: Family[], name: string): Family {
  const found = families.find((f) => f.name === name);
  expect(found, `metric family ${name}`).toBeDefined();
  return found!;
}

/** A counter's or gauge's value for exactly these labels (0 when the series is absent). */
export function valueOf(families: Family[], name: string, labels: Record<string, string>): number {
  const series = family(families, name).metrics.find(
    (m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === JSON.stringify(Object.entries(labels).sort()),
  );
  return series ? Number(series.value) : 0;
}

/** A finished gateway request as the hot path hands it to the usage buffer. */
export function recorded(fields: Partial<RecordedRequest> = {}): RecordedRequest {
  return {
    keyId: null,
    ownerId: "",
    environment: "live",
    route: "echo",
    method: "GET",
    outcome: "OK",
    status: 200,
    colo: "",
    country: "",
    gatewayMs: 1,
    upstreamMs: 3,
    requestBytes: 0,
    responseBytes: 10,
    creditsUsed: 0,
    at: Date.now(),
    requestId: `req_${crypto.randomUUID().replaceAll("-", "")}`,
    path: "/echo",
    clientIp: "198.51.100.7",
    userAgent: "usage-test",
    ...fields,
  };
}

/** An execution context that keeps what is handed to waitUntil, so a test can let it all finish. */
export function collectingContext() {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil: (p: Promise<unknown>) => void pending.push(p),
    /** Waits for everything handed over so far, and anything it hands over in turn. */
    async settle() {
      while (pending.length) await Promise.all(pending.splice(0));
    },
    get count() {
      return pending.length;
    },
  };
}
