import type { Config } from "./config";
import type { KeyStateClient } from "./state/client";

/** What every handler finds on the Hono context (`c.get(...)`), set once per request. */
export interface Services {
  config: Config;
  state: KeyStateClient;
}

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
    services: Services;
  }
}

export type AppEnv = { Bindings: Env };
