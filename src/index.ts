import { appFor, buildServices, ownsPath } from "./app";
import { getConfig } from "./config";
import { problemResponse, toProblem } from "./errors";
import { newRequestId } from "./http/request-id";
import { cleanUp } from "./scheduled";
import { signerReady } from "./gateway/assertion";
import { keepTarget, parseTarget } from "./http/paths";
import { handleConsumer } from "./gateway";

export { KeyState } from "./state/key-state";

/**
 * The worker. Config is checked before anything else, the signing key included, so a bad
 * config answers CONFIG_INVALID before any request is charged. Consumer requests go straight
 * to the gateway; keygate's own paths to the admin API's router. Whatever escapes is still
 * answered as problem+json with a request id, never as the runtime's plain 500.
 */
export default {
  async fetch(request, env, ctx) {
    try {
      const config = getConfig(env);
      const checking = signerReady(config);
      if (checking) await checking;
      const target = parseTarget(request);
      if (ownsPath(target, config.adminPath)) {
        keepTarget(request, target); // the admin router reads it instead of parsing the URL again
        return await appFor(config.adminPath).fetch(request, env, ctx);
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
    await cleanUp(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
