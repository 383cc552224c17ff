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

/**
 * The longest USAGE_FLUSH_MS allowed: the timer and every retry of a write then fit within the
 * 30 s that Workers give `waitUntil` after a response, so a figure is at most 60 s late.
 */
export const MAX_FLUSH_AFTER_MS = 15_000;

export const DEFAULT_LIMITS: BufferLimits = {
  flushAfterMs: 10_000,
  batchRequests: 500,
  maxHeldRequests: 5_000,
  retryDelaysMs: [2_000, 4_000, 8_000],
};
