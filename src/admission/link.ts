import type { Region } from "./regions";

/**
 * The one seam between keygate's admission and the world's distances. Every call from an
 * isolate to an admission object, and between a lineage's objects, goes through `link().call`.
 * On Cloudflare it is the call itself. The geography simulation (bench/geo.mjs and the region
 * tests) puts in a link that delays each call by the round trip between the caller's region
 * and the object's, or makes a region unreachable; nothing else in keygate knows about it.
 */
export interface Link {
  /** `send` is the call to the object `to` (by name, in `region` once it is known) from a caller in `from`. */
  call<T>(from: Region | null, to: ObjectAddress, send: () => Promise<T>): Promise<T>;
  /** An object tells where it stands, once it knows: the region of the request that created it. */
  placed(name: string, region: Region | null): void;
}

export interface ObjectAddress {
  name: string;
  /** the object's region, when the caller knows it */
  region: Region | null;
  /** the region the object is created in, if this call creates it */
  hint: Region | null;
}

const direct: Link = {
  call: (_from, _to, send) => send(),
  placed: () => undefined,
};

let current: Link = direct;

export const link = (): Link => current;

/** Replaces the link (simulation and tests only); `null` puts the direct one back. */
export function useLink(replacement: Link | null): void {
  current = replacement ?? direct;
}
