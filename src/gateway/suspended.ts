import { ProblemError } from "../errors";
import { hashKey } from "../keys/format";
import { suspendedAt, suspensionLeft } from "../keys/verify";
import { lookupKey } from "../store/cache";
import { extractKey } from "./authenticate";
import type { Exchange } from "./exchange";

/**
 * Check 6b answers 429 KEY_SUSPENDED with `Retry-After`: the seconds until the suspension
 * ends (DESIGN.md). `keyUnusable` gives them as `retryAfter`; the refusal is built in admit.ts
 * from its code and detail alone, so the header is added here from the same record, which the
 * isolate's memory holds since admit read it. A refusal that carries the header already is
 * answered as it is.
 */
export async function withSuspensionRetryAfter(x: Exchange, problem: ProblemError): Promise<ProblemError> {
  if (new Headers(problem.options.headers).has("Retry-After")) return problem;
  let seconds = 1;
  try {
    const hash = await hashKey(extractKey(x.request.headers, x.url.search, x.route));
    const found = lookupKey(x.env, hash, (p) => x.ctx.waitUntil(p));
    const key = found instanceof Promise ? await found : found;
    const now = Date.now();
    if (key && suspendedAt(key, now)) seconds = suspensionLeft(key.suspendedUntil!, now);
  } catch {
    // the refusal stands; a second's wait is the least it asks
  }
  const headers = new Headers(problem.options.headers);
  headers.set("Retry-After", String(seconds));
  return new ProblemError(problem.code, problem.detail, { ...problem.options, headers });
}
