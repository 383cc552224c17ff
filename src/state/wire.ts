import type { RateLimit } from "../store/record";
import type { CheckResult, LimitState } from "./key-state";

/**
 * The gateway's per-request call to KeyState, in a compact form. Serialising an RPC's
 * arguments and answer costs CPU on every request, and objects cost far more than numbers
 * (bench/README.md, "Where the time goes"), so the check travels as primitives, its rate
 * limits as one string worked out once per record, and its answer as a flat array of numbers.
 * Both ends use these helpers; `CheckRequest` and `CheckResult` stay the types either side reads.
 */

const specs = new WeakMap<readonly RateLimit[], string>();

/** `name limit windowSeconds` per limit, `;` between (names hold neither a space nor a `;`). */
export function limitsSpec(ratelimits: readonly RateLimit[]): string {
  let spec = specs.get(ratelimits);
  if (spec === undefined) {
    spec = ratelimits.map((rl) => `${rl.name} ${rl.limit} ${rl.windowSeconds}`).join(";");
    specs.set(ratelimits, spec);
  }
  return spec;
}

const parsed = new Map<string, RateLimit[]>();

export function parseLimits(spec: string): RateLimit[] {
  let limits = parsed.get(spec);
  if (!limits) {
    limits =
      spec === ""
        ? []
        : spec.split(";").map((item) => {
            const [name, limit, windowSeconds] = item.split(" ");
            return { name, limit: Number(limit), windowSeconds: Number(windowSeconds) };
          });
    if (parsed.size >= 1000) parsed.clear();
    parsed.set(spec, limits);
  }
  return limits;
}

const OUTCOMES = ["STALE", "OK", "RATE_LIMITED", "QUOTA_EXHAUSTED"] as const;

/**
 * STALE: `[0, version]`. Otherwise `[outcome, retryAfter, creditsRemaining, refillIn, then
 * remaining and reset of each limit in order]`, with -1 for what is absent (no credits, no
 * refill, no retry).
 */
export function packResult(result: CheckResult): number[] {
  if (result.outcome === "STALE") return [0, result.version];
  const packed = [
    OUTCOMES.indexOf(result.outcome),
    result.retryAfter ?? -1,
    result.credits?.remaining ?? -1,
    result.credits?.refillIn ?? -1,
  ];
  for (const limit of result.limits) packed.push(limit.remaining, limit.reset);
  return packed;
}

export function unpackResult(packed: number[], ratelimits: readonly RateLimit[]): CheckResult {
  const outcome = OUTCOMES[packed[0]];
  if (outcome === "STALE") return { outcome, version: packed[1] };
  const limits: LimitState[] = ratelimits.map((rl, i) => ({ ...rl, remaining: packed[4 + 2 * i], reset: packed[5 + 2 * i] }));
  return {
    outcome,
    limits,
    credits: packed[2] < 0 ? null : { remaining: packed[2], refillIn: packed[3] < 0 ? null : packed[3] },
    ...(packed[1] < 0 ? {} : { retryAfter: packed[1] }),
  };
}
