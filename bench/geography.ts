/**
 * A simulated geography for the benchmark (bench/geo.mjs): keygate's isolates and objects all
 * run in one workerd on one machine, so the distances between Cloudflare's regions are
 * invisible. This link (src/admission/link.ts, the one seam for it) delays every call between
 * an isolate and an object, and between objects, by the round trip between their regions, and
 * can cut a region off.
 *
 * The round trips stand for the Durable Object regions by one representative city each:
 * wnam San Francisco, enam Ashburn/New York, sam São Paulo, weur Frankfurt, eeur Warsaw, apac
 * Singapore, oc Sydney, afr Johannesburg, me Dubai. Between regions: median round-trip pings
 * between those cities from WonderNetwork's public global ping statistics
 * (https://wondernetwork.com/pings), rounded to 5 ms. Within a region (the diagonal): the round
 * trip from a Cloudflare location to a Durable Object placed in the same region, taken as the
 * median ping between that region's main cities (for weur, Frankfurt to London, Paris and
 * Amsterdam), rounded likewise. They are approximations of public figures, fixed here so the
 * runs can be compared; the docs quote them as such (bench/README.md, "A simulated geography").
 */
import type { Link } from "../src/admission/link";
import type { Region } from "../src/admission/regions";

const ORDER: Region[] = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];

/** Round trips in ms, in ORDER; symmetric, the diagonal is the round trip within a region. */
const TABLE: number[][] = [
  //wnam enam sam weur eeur apac oc  afr  me
  [20, 65, 170, 145, 160, 170, 140, 285, 230], // wnam
  [65, 15, 115, 85, 110, 230, 200, 230, 190], // enam
  [170, 115, 30, 190, 215, 330, 310, 340, 300], // sam
  [145, 85, 190, 10, 25, 160, 260, 160, 110], // weur
  [160, 110, 215, 25, 20, 175, 280, 180, 110], // eeur
  [170, 230, 330, 160, 175, 35, 95, 270, 80], // apac
  [140, 200, 310, 260, 280, 95, 25, 340, 200], // oc
  [285, 230, 340, 160, 180, 270, 340, 40, 140], // afr
  [230, 190, 300, 110, 110, 80, 200, 140, 25], // me
];

export function roundTrip(a: Region, b: Region): number {
  return TABLE[ORDER.indexOf(a)][ORDER.indexOf(b)];
}

/** What `request.cf` says of a request from each region (what the benchmark's front sets). */
export const CF: Record<Region, Record<string, string>> = {
  wnam: { continent: "NA", country: "US", timezone: "America/Los_Angeles" },
  enam: { continent: "NA", country: "US", timezone: "America/New_York" },
  sam: { continent: "SA", country: "BR" },
  weur: { continent: "EU", country: "DE" },
  eeur: { continent: "EU", country: "PL" },
  apac: { continent: "AS", country: "SG" },
  oc: { continent: "OC", country: "AU" },
  afr: { continent: "AF", country: "ZA" },
  me: { continent: "AS", country: "AE" },
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Geography {
  link: Link;
  cut(region: Region): void;
  heal(): void;
}

/**
 * The link of the simulation. A call takes the round trip between the caller's region and the
 * object's on top of its own time; an object's region is its name's (`<lineage>@<region>`),
 * or where it said it was placed, or, for the call that creates it, its location hint. A caller
 * of no known region (a local request) is taken to stand beside the object. A call between a
 * cut region and another fails after the round trip, as a lost connection would.
 */
export function simulatedGeography(): Geography {
  const placed = new Map<string, Region | null>();
  const cut = new Set<Region>();
  const link: Link = {
    async call(from, to, send) {
      const at = to.region ?? placed.get(to.name) ?? ((to.name.split("@")[1] as Region | undefined) || null) ?? to.hint ?? from;
      const caller = from ?? at;
      const trip = caller && at ? roundTrip(caller, at) : 0;
      // The whole round trip is waited before the call (one timer, not one per direction: a
      // timer fires a little late, and two would add that twice to every call).
      await sleep(trip);
      if (caller !== at && ((caller && cut.has(caller)) || (at && cut.has(at)))) throw new Error(`simulated network: ${caller} cannot reach ${at}`);
      return send();
    },
    placed: (name, region) => void placed.set(name, region),
  };
  return { link, cut: (region) => void cut.add(region), heal: () => cut.clear() };
}
