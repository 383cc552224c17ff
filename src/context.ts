import type { Config } from "./config";
import type { AdmissionClient } from "./admission/client";

/** What every handler finds on the Hono context (`c.get(...)`), set once per request. */
export interface Services {
  config: Config;
  state: AdmissionClient;
}

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
    services: Services;
  }
}

export type AppEnv = { Bindings: Env };
