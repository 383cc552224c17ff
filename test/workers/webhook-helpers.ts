import { env } from "cloudflare:workers";
import { afterEach, expect } from "vitest";
import { admin } from "./helpers";

/** What the test origin's webhook receiver saw (test/support/origin.ts). */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  verified: boolean[];
  error: string | null;
  at: number;
  answered: number | "hung";
}

export interface Payload {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { key?: { id: string } & Record<string, unknown> };
}

export interface Webhook {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabledReason: "gone" | "failing" | null;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

let receivers = 0;
/** A fresh receiver name per call, so tests never read each other's deliveries. */
export const receiverName = (label = "r") => `${label}-${Date.now().toString(36)}-${++receivers}`;

export const receiverUrl = (name: string) => `${env.UPSTREAM_URL}/hooks/${name}`;

/** Tells the receiver `name` which secrets to verify with and how to answer. */
export async function configureReceiver(name: string, secrets: string[], mode = "ok"): Promise<void> {
  const res = await fetch(`${receiverUrl(name)}/config`, { method: "POST", body: JSON.stringify({ secrets, mode }) });
  expect(res.status).toBe(200);
}

export async function received(name: string): Promise<Received[]> {
  return (await fetch(`${receiverUrl(name)}/received`)).json();
}

export const payloadOf = (r: Received) => JSON.parse(r.body) as Payload;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it answers something truthy, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, what = "the condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Deliveries to `name` whose payload passes `where`, once there are at least `count`. */
export function deliveriesTo(name: string, where: (p: Payload) => boolean, count = 1, timeoutMs = 15_000): Promise<Received[]> {
  return eventually(
    async () => {
      const matching = (await received(name)).filter((r) => where(payloadOf(r)));
      return matching.length >= count ? matching : null;
    },
    timeoutMs,
    `${count} matching deliveries to ${name}`,
  );
}

const created: string[] = [];

/** Endpoints made by a test are deleted after it, so no later test's events reach them. */
afterEach(async () => {
  for (const id of created.splice(0)) await admin(`/webhooks/${id}`, { method: "DELETE" });
});

/** An endpoint pointing at a fresh receiver that verifies with the endpoint's secret. */
export async function endpointWithReceiver(events: string[] = ["*"], mode = "ok"): Promise<{ name: string; webhook: Webhook; secret: string }> {
  const name = receiverName();
  const res = await admin("/webhooks", { method: "POST", json: { url: receiverUrl(name), events } });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as Webhook & { secret: string };
  created.push(body.id);
  await configureReceiver(name, [body.secret], mode);
  const { secret, ...webhook } = body;
  return { name, webhook, secret };
}

/** Remembers an endpoint made otherwise, for deletion after the test. */
export const forget = (id: string) => created.push(id);

/** Deliveries about one key. */
export const aboutKey = (keyId: string, type?: string) => (p: Payload) => p.data.key?.id === keyId && (type === undefined || p.type === type);
