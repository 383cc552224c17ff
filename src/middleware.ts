import type { MiddlewareHandler } from "hono";
import type { AppEnv, Services } from "./context";
import { newRequestId } from "./http/request-id";


/** A fresh id per request, on the context and on every response (inbound ids are not trusted). */
export const requestId = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const id = newRequestId();
  c.set("requestId", id);
  await next();
  c.res.headers.set("X-Request-Id", id);
};

/** Hands handlers the services built once per isolate (tests swap them through `env`). */
export const services = (build: (env: Env) => Services): MiddlewareHandler<AppEnv> => async (c, next) => {
  c.set("services", build(c.env));
  await next();
};

export const clientIp = (headers: Headers): string | null => headers.get("CF-Connecting-IP");
