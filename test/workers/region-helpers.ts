import { env } from "cloudflare:workers";
import { listDurableObjectIds } from "cloudflare:test";
import { call } from "./helpers";
import { useLink, type Link } from "../../src/admission/link";
import type { Region } from "../../src/admission/regions";

/** What `request.cf` says of a request from each region, as Cloudflare would set it. */
export const FROM: Record<Region, IncomingRequestCfProperties> = {
  wnam: { continent: "NA", country: "US", timezone: "America/Los_Angeles" },
  enam: { continent: "NA", country: "US", timezone: "America/New_York" },
  sam: { continent: "SA", country: "BR" },
  weur: { continent: "EU", country: "DE" },
  eeur: { continent: "EU", country: "PL" },
  apac: { continent: "AS", country: "SG" },
  oc: { continent: "OC", country: "AU" },
  afr: { continent: "AF", country: "ZA" },
  me: { continent: "AS", country: "AE" },
} as unknown as Record<Region, IncomingRequestCfProperties>;

/** A consumer call from a region. */
export const callFrom = (region: Region, path: string, key: string, init: RequestInit = {}) =>
  call(path, key, { ...init, cf: FROM[region] } as RequestInit);

export const homeOf = (lineageId: string) => env.KEY_STATE.get(env.KEY_STATE.idFromName(lineageId));
export const regionalOf = (lineageId: string, region: Region) =>
  env.REGIONAL_STATE.get(env.REGIONAL_STATE.idFromName(`${lineageId}@${region}`));

/** The regions whose regional object of the lineage exists. */
export async function regionalObjects(lineageId: string): Promise<Region[]> {
  const ids = await listDurableObjectIds(env.REGIONAL_STATE);
  const regions: Region[] = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];
  return regions.filter((region) => ids.some((id) => id.equals(env.REGIONAL_STATE.idFromName(`${lineageId}@${region}`))));
}

/** Every call between isolates and objects, and between objects, as the link saw it. */
export interface Traffic {
  calls: { from: Region | null; to: string }[];
  /** regions cut off from every other: calls between them and another region fail; calls within work */
  cut: Set<Region>;
  restore(): void;
}

/**
 * Puts in a link that records every call and can cut a region off: a call between a cut region
 * and another fails, as an unreachable network would, while calls within the region work. The objects' regions are
 * learned from `placed` (and from the names of regional objects).
 *
 * A call that fails this way makes workerd print "Uncaught (in promise)" with this link at the
 * top of the stack and @cloudflare/vitest-plugin's wrapper around Durable Object methods at its
 * bottom. The rejection does reach the gateway, which answers 503 (the tests check it), and each
 * promise keygate makes on that way hands it on (Holder.renew, the client's `within`,
 * Deadline.race); where the line comes from is not proven. The bench's Miniflare does not pass
 * workerd's own lines on, so it cannot tell either.
 */
export function watchLink(): Traffic {
  const placed = new Map<string, Region | null>();
  const traffic: Traffic = {
    calls: [],
    cut: new Set(),
    restore: () => useLink(null),
  };
  const regionOfObject = (name: string, known: Region | null): Region | null =>
    known ?? placed.get(name) ?? ((name.split("@")[1] as Region | undefined) ?? null);
  const link: Link = {
    call: (from, to, send) => {
      traffic.calls.push({ from, to: to.name });
      const at = regionOfObject(to.name, to.region) ?? to.hint;
      const crossing = from !== at;
      if (crossing && ((from && traffic.cut.has(from)) || (at && traffic.cut.has(at)))) {
        return Promise.reject(new Error(`network: ${from} cannot reach ${at}`));
      }
      return send();
    },
    placed: (name, region) => void placed.set(name, region),
  };
  useLink(link);
  return traffic;
}
