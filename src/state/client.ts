import type { CheckRequest, CheckResult, Confirm, KeyState, PeekResult, Prepare } from "./key-state";

/** The gateway's and admin API's view of KeyState: one object per lineage, with a deadline. */
export interface KeyStateClient {
  check(req: CheckRequest): Promise<CheckResult>;
  peek(req: Parameters<KeyState["peek"]>[0]): Promise<PeekResult>;
  /** The newest record version of a key that the lineage's object knows D1 holds. */
  version(req: { lineageId: string; keyId: string }): Promise<number>;
  prepare(req: Prepare): Promise<void>;
  confirm(req: Confirm): Promise<void>;
  abort(req: { lineageId: string; token: string }): Promise<void>;
}

export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
}

export function keyStateClient(ns: DurableObjectNamespace<KeyState>, timeoutMs: number): KeyStateClient {
  const stub = (lineageId: string) => ns.get(ns.idFromName(lineageId));
  // RPC results arrive as plain structured-cloned values of these types.
  return {
    check: (req) => withDeadline(() => stub(req.lineageId).check(req) as Promise<CheckResult>, timeoutMs),
    peek: (req) => withDeadline(() => stub(req.lineageId).peek(req) as Promise<PeekResult>, timeoutMs),
    version: (req) => withDeadline(() => stub(req.lineageId).version(req) as Promise<number>, timeoutMs),
    prepare: (req) => withDeadline(() => stub(req.lineageId).prepare(req) as Promise<void>, timeoutMs),
    confirm: (req) => withDeadline(() => stub(req.lineageId).confirm(req) as Promise<void>, timeoutMs),
    abort: (req) => withDeadline(() => stub(req.lineageId).abort(req) as Promise<void>, timeoutMs),
  };
}

/** Any failure to reach the object, thrown or rejected, and any answer too late, is StateUnavailableError. */
async function withDeadline<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> = 0;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StateUnavailableError(`KeyState did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call(), deadline]);
  } catch (err) {
    if (err instanceof StateUnavailableError) throw err;
    throw new StateUnavailableError(`KeyState failed: ${String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}
