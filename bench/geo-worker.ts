import worker from "../src/index";
import { useLink } from "../src/admission/link";
import { isRegion } from "../src/admission/regions";
import { CF, simulatedGeography } from "./geography";

/**
 * keygate as bench/geo.mjs runs it: the production worker and objects, with the simulated
 * geography's link put in at the seam (bench/geography.ts). The benchmark's load says which
 * region each request comes from in `X-Bench-Region`; this front turns it into the
 * `request.cf` Cloudflare would set, and drops it. `/__geo/cut?region=` and `/__geo/heal` cut
 * a region off and reconnect it (benchmark only: this file is never deployed).
 */
export { KeyState, RegionalAdmission, OwnerState } from "../src/index";
export { BenchProbe } from "./worker";

const geography = simulatedGeography();
useLink(geography.link);

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext) {
    const url = new URL(request.url);
    if (url.pathname === "/__geo/cut") {
      const region = url.searchParams.get("region");
      if (!isRegion(region)) return new Response("unknown region", { status: 400 });
      geography.cut(region);
      return new Response("cut");
    }
    if (url.pathname === "/__geo/heal") {
      geography.heal();
      return new Response("healed");
    }
    const region = request.headers.get("X-Bench-Region");
    if (isRegion(region)) {
      const headers = new Headers(request.headers);
      headers.delete("X-Bench-Region");
      request = new Request(request, { headers, cf: CF[region] } as RequestInit);
    }
    return worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, env, ctx);
  },
} satisfies ExportedHandler<Env>;
