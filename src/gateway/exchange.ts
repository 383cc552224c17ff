import type { Route } from "../config";
import type { Services } from "../context";
import type { Deadline } from "../http/deadline";

/**
 * One consumer request as the gateway handles it: what every step of the hot path reads,
 * worked out once. The gateway runs outside the admin API's router (src/index.ts), so this is
 * all the per-request state it carries.
 */
export interface Exchange {
  request: Request;
  env: Env;
  ctx: ExecutionContext;
  services: Services;
  requestId: string;
  /** the request's URL, parsed once */
  url: URL;
  /** the canonical path; null when it has none (no route matches) */
  path: string | null;
  route: Route | null;
  /** CF-Connecting-IP */
  ip: string | null;
  /** Date.now() when the request arrived */
  started: number;
  /** the one timer the request's waits share */
  deadline: Deadline;
}
