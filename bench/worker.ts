import { WorkerEntrypoint } from "cloudflare:workers";
import worker from "../src/index";
import { clearMemoryCache, memoryCacheStats } from "../src/store/cache";

/**
 * The benchmark's build of keygate: the production worker unchanged (same default export,
 * same KeyState), plus one named entrypoint the harness reaches over a service binding,
 * never over HTTP, to read and reset the in-isolate key cache.
 */
export { KeyState, RegionalAdmission, OwnerState } from "../src/index";
export default worker;

export class BenchProbe extends WorkerEntrypoint {
  cacheStats() {
    return memoryCacheStats();
  }

  clearCache() {
    clearMemoryCache();
    return memoryCacheStats();
  }
}
