import { Lru } from "../store/lru";
import { Deadline } from "../http/deadline";
import { link, type ObjectAddress } from "./link";
import { regionalName } from "./names";
import type { Region } from "./regions";
import type { AdmitRequest, AdmitResult, ChangeRequest, ChangeResult, PeekRequest, PeekResult, VersionRequest } from "./protocol";
import type { OwnerChangeRequest } from "./owner";
import type { RateLimit } from "../keys/record";
import type { CommitOutcome } from "../store/lineage";

/**
 * The gateway's and admin API's view of admission. A consumer request goes to one object: its
 * own region's (the lineage's home when the home is in that region, else the lineage's
 * regional object there). Which region the home is in, the isolate learns from the objects'
 * answers; until it knows, it asks the home, which creates the home near the consumer when the
 * lineage has none yet. Every call has a deadline; a consumer request passes its own `Deadline`,
 * so its waits share one timer.
 */
export interface AdmissionClient {
  admit(req: AdmitRequest, deadline: Deadline): Promise<AdmitResult>;
  /** The home's view, without consuming anything; only for a lineage whose home exists. */
  peek(req: PeekRequest): Promise<PeekResult>;
  /** The newest record version of a key that the object of the caller's region knows D1 holds. */
  version(req: VersionRequest, deadline?: Deadline): Promise<number>;
  /** Hands a planned change to the lineage's home, which commits it (docs/consistency.md). */
  change(req: ChangeRequest, timeoutMs: number): Promise<ChangeResult | { outcome: "failed" }>;
  /** An owner's home: what is left of its shared limits and balance (only for an owner whose home exists). */
  ownerPeek(req: { ownerId: string; ratelimits?: RateLimit[] }): Promise<PeekResult>;
  /** Hands a planned owner change to the owner's home, which commits it. */
  ownerChange(req: OwnerChangeRequest, timeoutMs: number): Promise<{ outcome: CommitOutcome | "failed" }>;
  /** Tells an owner's home its plan changed. */
  planChanged(ownerId: string): Promise<void>;
}

export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
}

type Homes = Env["KEY_STATE"];
type Regionals = Env["REGIONAL_STATE"];
type Owners = Env["OWNER_STATE"];

export function admissionClient(homes: Homes, regionals: Regionals, owners: Owners, timeoutMs: number): AdmissionClient {
  // An object's id is a hash of its name, worth keeping; a stub belongs to one request, so it is not.
  const ids = new Lru<DurableObjectId>(10_000, 10_000);
  /** An id per namespace and name (an owner's id could read like a lineage's). */
  const idOf = (ns: Homes | Regionals | Owners, name: string) => {
    const cached = `${ns === homes ? "h" : ns === regionals ? "r" : "o"}:${name}`;
    let id = ids.get(cached);
    if (!id) {
      id = ns.idFromName(name);
      ids.set(cached, id, 1);
    }
    return id;
  };
  /** lineage id -> the region its home answered from (null: a home that knows no region) */
  const homeRegions = new Lru<Region | null>(10_000, 10_000);
  const learn = (lineageId: string, home: Region | null | undefined) => {
    if (home !== undefined && homeRegions.get(lineageId) !== home) homeRegions.set(lineageId, home, 1);
  };

  const home = (lineageId: string, hint: Region | null) => {
    const address: ObjectAddress = { name: lineageId, region: homeRegions.get(lineageId) ?? null, hint };
    return { address, stub: () => homes.get(idOf(homes, lineageId), hint ? { locationHint: hint } : undefined) };
  };

  /** The object a request from `region` talks to: its own region's. */
  const target = (lineageId: string, region: Region | null) => {
    const homeRegion = homeRegions.get(lineageId);
    if (region === null || homeRegion === undefined || homeRegion === region) {
      const h = home(lineageId, region);
      return { address: h.address, call: <T>(f: (s: ReturnType<Homes["get"]> | ReturnType<Regionals["get"]>) => Promise<T>) => f(h.stub()) };
    }
    const name = regionalName(lineageId, region);
    const address: ObjectAddress = { name, region, hint: region };
    return {
      address,
      call: <T>(f: (s: ReturnType<Homes["get"]> | ReturnType<Regionals["get"]>) => Promise<T>) =>
        f(regionals.get(idOf(regionals, name), { locationHint: region })),
    };
  };

  // Admin calls reach an owner's home only when it exists: no location hint, it never creates one.
  const owner = (ownerId: string) => owners.get(idOf(owners, ownerId));
  const ownerAddress = (ownerId: string): ObjectAddress => ({ name: ownerId, region: null, hint: null });

  const viaLink = <T>(from: Region | null, address: ObjectAddress, send: () => Promise<T>, deadline?: Deadline) =>
    within(() => link().call(from, address, send), timeoutMs, deadline);

  return {
    admit: async (req, deadline) => {
      const t = target(req.lineageId, req.region);
      const result = (await viaLink(req.region, t.address, () => t.call((s) => s.admit(req) as Promise<AdmitResult>), deadline)) as AdmitResult;
      learn(req.lineageId, result.home);
      return result;
    },
    peek: (req) => {
      const h = home(req.lineageId, null);
      return viaLink(null, h.address, () => h.stub().peek(req) as Promise<PeekResult>);
    },
    version: (req, deadline) => {
      const t = target(req.lineageId, req.region);
      return viaLink(req.region, t.address, () => t.call((s) => s.version(req) as Promise<number>), deadline);
    },
    change: (req, changeTimeoutMs) => {
      const h = home(req.lineageId, null);
      return within(() => link().call(null, h.address, () => h.stub().change(req) as Promise<ChangeResult | { outcome: "failed" }>), changeTimeoutMs);
    },
    ownerPeek: (req) => viaLink(null, ownerAddress(req.ownerId), () => owner(req.ownerId).peek(req) as Promise<PeekResult>),
    ownerChange: (req, changeTimeoutMs) =>
      within(() => link().call(null, ownerAddress(req.ownerId), () => owner(req.ownerId).change(req) as Promise<{ outcome: CommitOutcome | "failed" }>), changeTimeoutMs),
    planChanged: (ownerId) => viaLink(null, ownerAddress(ownerId), () => owner(ownerId).planChanged({ ownerId }) as Promise<void>),
  };
}

const tooLate = (timeoutMs: number) => `the admission object did not answer within ${timeoutMs} ms`;

/** Any failure to reach the object, thrown or rejected, and any answer too late, is StateUnavailableError. */
function unavailable(err: unknown): never {
  if (err instanceof StateUnavailableError) throw err;
  throw new StateUnavailableError(`admission object failed: ${String(err)}`);
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
