import type { Config } from "../config";
import { attempt, fanOut } from "./deliver";
import { sendToQueue } from "./dispatch";
import type { QueueMessage, SuspensionRequest } from "./types";

/**
 * The EVENTS queue's consumer (docs/events.md). Each message is acknowledged once its work is
 * done, and retried by the queue when it could not be (D1 or the queue unreachable): at least
 * once, with duplicates carrying the same `webhook-id`. An isolate that ends mid-batch leaves
 * its messages unacknowledged, and the queue delivers them again.
 */

/** Fetches one invocation runs at once: a Worker has 6 connections; more would wait with their timers running. */
const CONCURRENCY = 6;

/** Seconds before the queue offers a message again whose work failed: 10 s, doubling, at most 10 minutes. */
export const retryDelay = (attempts: number): number => Math.min(600, 10 * 2 ** Math.max(0, attempts - 1));

export interface ConsumerDeps {
  env: Pick<Env, "DB"> & Partial<Pick<Env, "EVENTS">>;
  config: Config;
  /** carries out a suspension the abuse rule decided (the key lifecycle: src/queue.ts) */
  suspend: (request: SuspensionRequest) => Promise<void>;
}

async function handle(message: QueueMessage, deps: ConsumerDeps): Promise<void> {
  switch (message.kind) {
    case "event": {
      const deliveries = await fanOut(deps.env, message.event);
      await sendToQueue(deps.env, deliveries.map((delivery) => ({ body: { kind: "delivery", delivery } })));
      return;
    }
    case "delivery":
      await attempt(deps.env, deps.config, message.delivery);
      return;
    case "suspend":
      await deps.suspend(message.suspension);
      return;
  }
}

export async function consume(batch: MessageBatch<QueueMessage>, deps: ConsumerDeps): Promise<void> {
  const waiting = [...batch.messages];
  const worker = async () => {
    for (let message = waiting.shift(); message; message = waiting.shift()) {
      try {
        await handle(message.body, deps);
        message.ack();
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "event work failed; the queue retries it", kind: message.body?.kind, attempts: message.attempts, error: String(err) }));
        message.retry({ delaySeconds: retryDelay(message.attempts) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, waiting.length) }, worker));
}
