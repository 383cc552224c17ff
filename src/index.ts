import { appFor, buildServices, ownsPath } from "./app";
import { getConfig } from "./config";
import { ProblemError, problemResponse, toProblem } from "./errors";
import { newRequestId } from "./http/request-id";
import { cleanUp } from "./scheduled";
import { handleQueue } from "./queue";
import type { QueueMessage } from "./events/types";
import { signerReady } from "./gateway/assertion";
import { keepTarget, parseTarget, type Target } from "./http/paths";
import { validHost } from "./http/host";
import { handleConsumer } from "./gateway";

export { KeyState } from "./admission/home";
export { RegionalAdmission } from "./admission/regional";
export { OwnerState } from "./admission/owner";

/**
 * The request's target, once its `Host` is known to be one host[:port]: the runtime builds the
 * URL from that header, so any other value (`evil.example/admin/keys?`, two `Host` headers)
 * would steer routing or give no URL at all. 400 VALIDATION_FAILED, before anything is routed.
 */
function requestTarget(request: Request): Target {
  const refused = () =>
    new ProblemError("VALIDATION_FAILED", "The Host header must be one host name or address with an optional port, like api.example.com or 127.0.0.1:8787.");
  if (!validHost(request.headers.get("Host"))) throw refused();
  try {
    return parseTarget(request);
  } catch {
    throw refused();
  }
}

/**
 * The worker. Config is checked before anything else, the signing key included, so a bad
 * config answers CONFIG_INVALID before any request is charged. Consumer requests go straight
 * to the gateway; keygate's own paths to the admin API's router; a request whose Host header
 * is not one host[:port] to neither. Whatever escapes is still answered as problem+json with
 * a request id, never as the runtime's plain 500.
 */
export default {
  async fetch(request, env, ctx) {
    try {
      const config = getConfig(env);
      const checking = signerReady(config);
      if (checking) await checking;
      const target = requestTarget(request);
      if (ownsPath(target, config)) {
        keepTarget(request, target); // the admin router reads it instead of parsing the URL again
        return await appFor(config).fetch(request, env, ctx);
      }
      return await handleConsumer(request, env, ctx, buildServices(env), target, newRequestId());
    } catch (err) {
      const requestId = newRequestId();
      const problem = toProblem(err, requestId);
      if (problem.code === "CONFIG_INVALID") console.error(JSON.stringify({ level: "error", requestId, msg: problem.detail }));
      return problemResponse(problem, requestId);
    }
  },
  async scheduled(controller, env) {
    await cleanUp(env, buildServices(env), controller.scheduledTime, controller.cron);
  },
  async queue(batch, env, ctx) {
    await handleQueue(batch, env, ctx, buildServices(env));
  },
} satisfies ExportedHandler<Env, QueueMessage>;
