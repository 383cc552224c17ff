import { env } from "cloudflare:test";
import { expect } from "vitest";
import { admin, send, type Created } from "./helpers";

/** The test origin (UPSTREAM_URL), which also counts the corpus markers it receives. */
export const ORIGIN = new URL(env.UPSTREAM_URL).origin;

export interface Case {
  name: string;
  path: string;
  init?: RequestInit;
  /** codes the answer may carry; it is always a 4xx problem */
  codes?: string[];
  /** the request carries a valid key and may legitimately be proxied */
  mayReachOrigin?: boolean;
}

export async function markersSeenByOrigin(): Promise<string[]> {
  return (await fetch(`${ORIGIN}/__markers`)).json();
}

/**
 * Sends one hostile request, tagged so the origin can tell whether it arrived, and checks
 * the answer: never a 5xx; a refusal is problem+json with one of the expected codes.
 */
export async function probe(c: Case, marker: string): Promise<{ status: number; text: string }> {
  const headers = new Headers(c.init?.headers);
  headers.set("X-Corpus-Marker", marker);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", "198.51.100.7");
  const res = await send(c.path, { ...c.init, headers });
  const text = await res.text();
  expect(res.status, `${c.name}: ${text.slice(0, 300)}`).toBeLessThan(500);
  if (!c.mayReachOrigin || res.status >= 400) {
    expect(res.status, c.name).toBeGreaterThanOrEqual(400);
    expect(res.headers.get("Content-Type"), c.name).toBe("application/problem+json");
    const body = JSON.parse(text) as { code: string; requestId: string };
    expect(body.requestId, c.name).toBe(res.headers.get("X-Request-Id"));
    if (c.codes) expect(c.codes, `${c.name} answered ${body.code}`).toContain(body.code);
  }
  return { status: res.status, text };
}

/**
 * Everything an operator could observe about some keys: records and their audit trails
 * (usage counters aside, which admitted requests legitimately move).
 */
export async function snapshot(keys: Created[]): Promise<string> {
  const states = await Promise.all(
    keys.map(async (k) => {
      const { usageCount: _count, lastUsedAt: _last, ...record } = (await (await admin(`/keys/${k.id}`)).json()) as Record<string, unknown>;
      const audit = await (await admin(`/audit?targetId=${k.id}`)).json();
      return { record, audit };
    }),
  );
  return JSON.stringify(states);
}
