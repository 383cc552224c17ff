import { Lru } from "../store/lru";
import { Deadline } from "../http/deadline";
import type { CheckRequest, CheckResult, Confirm, KeyState, PeekResult, Prepare } from "./key-state";

/**
 * The gateway's and admin API's view of KeyState: one object per lineage, each call with a
 * deadline. A consumer request passes its own `Deadline`, so its waits share one timer.
 */
export interface KeyStateClient {
  check(req: CheckRequest, deadline: Deadline): Promise<CheckResult>;
  peek(req: Parameters<KeyState["peek"]>[0]): Promise<PeekResult>;
  /** The newest record version of a key that the lineage's object knows D1 holds. */
  version(req: { lineageId: string; keyId: string }, deadline?: Deadline): Promise<number>;
  prepare(req: Prepare): Promise<void>;
  confirm(req: Confirm): Promise<void>;
  abort(req: { lineageId: string; token: string }): Promise<void>;
}

export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
}

export function keyStateClient(ns: DurableObjectNamespace<KeyState>, timeoutMs: number): KeyStateClient {
  // An object's id is a hash of its name, worth keeping; a stub belongs to one request, so it is not.
  const ids = new Lru<DurableObjectId>(10_000, 10_000);
  const stub = (lineageId: string) => {
    let id = ids.get(lineageId);
    if (!id) {
      id = ns.idFromName(lineageId);
      ids.set(lineageId, id, 1);
    }
    return ns.get(id);
  };
  // RPC results arrive as plain structured-cloned values of these types.
  return {
    check: (req, deadline) => within(() => stub(req.lineageId).check(req) as Promise<CheckResult>, timeoutMs, deadline),
    peek: (req) => within(() => stub(req.lineageId).peek(req) as Promise<PeekResult>, timeoutMs),
    version: (req, deadline) => within(() => stub(req.lineageId).version(req) as Promise<number>, timeoutMs, deadline),
    prepare: (req) => within(() => stub(req.lineageId).prepare(req) as Promise<void>, timeoutMs),
    confirm: (req) => within(() => stub(req.lineageId).confirm(req) as Promise<void>, timeoutMs),
    abort: (req) => within(() => stub(req.lineageId).abort(req) as Promise<void>, timeoutMs),
  };
}

const tooLate = (timeoutMs: number) => `KeyState did not answer within ${timeoutMs} ms`;

/** Any failure to reach the object, thrown or rejected, and any answer too late, is StateUnavailableError. */
function unavailable(err: unknown): never {
  if (err instanceof StateUnavailableError) throw err;
  throw new StateUnavailableError(`KeyState failed: ${String(err)}`);
}

/**
 * The call, or StateUnavailableError once `timeoutMs` has passed, on the request's timer when
 * there is one (the caller clears it), else on a timer of its own.
 */
function within<T>(call: () => Promise<T>, timeoutMs: number, deadline?: Deadline): Promise<T> {
  const timer = deadline ?? new Deadline();
  // async, so a stub that throws at once is a rejection like any other failure to reach the object
  const answer = timer.race((async () => call())(), timeoutMs, () => new StateUnavailableError(tooLate(timeoutMs))).catch(unavailable);
  return deadline ? answer : answer.finally(() => timer.clear());
}
