/**
 * Durable Object regions (Cloudflare's `locationHint` values) and the region a request comes
 * from (DESIGN.md, "Regions"). A lineage's objects are created in the region of the request
 * that first needs them, so they sit near the consumers who use the key. The mapping is
 * written down in docs/regions.md.
 */

export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type Region = (typeof REGIONS)[number];

export const isRegion = (value: unknown): value is Region => REGIONS.includes(value as Region);

/** Countries of the Middle East region (ISO 3166-1 alpha-2), whatever continent `cf` gives them. */
const MIDDLE_EAST = new Set(["AE", "BH", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "YE"]);
/** European countries nearer Cloudflare's eastern European Durable Object locations. */
const EASTERN_EUROPE = new Set([
  "AL", "AM", "AZ", "BA", "BG", "BY", "CY", "CZ", "EE", "GE", "GR", "HR", "HU", "LT", "LV", "MD", "ME", "MK",
  "PL", "RO", "RS", "RU", "SI", "SK", "TR", "UA", "XK",
]);
/** Time zones of western North America: Pacific, Mountain, Alaska and Hawaii. */
const WESTERN_ZONES = /^(America\/(Los_Angeles|Vancouver|Tijuana|Whitehorse|Dawson|Denver|Phoenix|Boise|Edmonton|Yellowknife|Hermosillo|Mazatlan|Chihuahua|Ciudad_Juarez|Anchorage|Juneau|Sitka|Nome|Yakutat|Metlakatla)|Pacific\/Honolulu)$/;

/** What keygate reads of `request.cf`. */
export interface RequestLocation {
  continent?: unknown;
  country?: unknown;
  timezone?: unknown;
  longitude?: unknown;
}

/**
 * The region a request comes from, or null when the runtime says nothing of where it came from
 * (never on Cloudflare; a local stack reached directly): such requests go to the lineage's home.
 */
export function regionOf(cf: RequestLocation | undefined | null): Region | null {
  if (!cf) return null;
  const country = typeof cf.country === "string" ? cf.country.toUpperCase() : "";
  if (MIDDLE_EAST.has(country)) return "me";
  switch (cf.continent) {
    case "NA": {
      if (typeof cf.timezone === "string" && cf.timezone !== "") return WESTERN_ZONES.test(cf.timezone) ? "wnam" : "enam";
      const longitude = Number(cf.longitude);
      return Number.isFinite(longitude) && longitude < -100 ? "wnam" : "enam";
    }
    case "SA":
      return "sam";
    case "EU":
      return EASTERN_EUROPE.has(country) ? "eeur" : "weur";
    case "AS":
      return "apac";
    case "OC":
    case "AN":
      return "oc";
    case "AF":
      return "afr";
    default:
      return null;
  }
}
