import { USAGE_FLUSH_MS } from "../config";

/** The usage buffer's limits (src/analytics/buffer.ts), which bound how late and how lossy usage can be. */

export interface BufferLimits {
  /** how long after its first request a batch is written (var USAGE_FLUSH_MS) */
  flushAfterMs: number;
  /** a batch holding this many requests is written at once */
  batchRequests: number;
  /** the most unwritten requests an isolate holds; past it the oldest batch is dropped */
  maxHeldRequests: number;
  /** waits between the attempts of one write, all within the same `waitUntil` */
  retryDelaysMs: number[];
}

export const DEFAULT_LIMITS: BufferLimits = {
  flushAfterMs: USAGE_FLUSH_MS.default,
  batchRequests: 500,
  maxHeldRequests: 5_000,
  retryDelaysMs: [2_000, 4_000, 8_000],
};
