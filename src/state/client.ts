import type { CheckRequest, CheckResult, KeyState, PeekResult, SyncRequest } from "./key-state";

/** The gateway's and admin API's view of KeyState: one object per lineage, with a deadline. */
export interface KeyStateClient {
  check(lineageId: string, req: CheckRequest): Promise<CheckResult>;
  peek(lineageId: string, req: Omit<CheckRequest, "cost">): Promise<PeekResult>;
  sync(lineageId: string, req: SyncRequest): Promise<void>;
  /** The newest record version the lineage's object has seen for a key. */
  version(lineageId: string, keyId: string): Promise<number>;
}

export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
}

export function keyStateClient(ns: DurableObjectNamespace<KeyState>, timeoutMs: number): KeyStateClient {
  const stub = (lineageId: string) => ns.get(ns.idFromName(lineageId));
  return {
    // RPC results arrive as plain structured-cloned values of these types.
    check: (lineageId, req) => withDeadline(() => stub(lineageId).check(req) as Promise<CheckResult>, timeoutMs),
    peek: (lineageId, req) => withDeadline(() => stub(lineageId).peek(req) as Promise<PeekResult>, timeoutMs),
    sync: (lineageId, req) => withDeadline(() => stub(lineageId).sync(req) as Promise<void>, timeoutMs),
    version: (lineageId, keyId) => withDeadline(() => stub(lineageId).version(keyId) as Promise<number>, timeoutMs),
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
