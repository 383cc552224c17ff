import { appFor } from "./app";
import { getConfig } from "./config";
import { problemResponse, ProblemError } from "./errors";
import { newRequestId } from "./middleware";
import { cleanUp } from "./scheduled";

export { KeyState } from "./state/key-state";

export default {
  async fetch(request, env, ctx) {
    let adminPath: string;
    try {
      adminPath = getConfig(env).adminPath;
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      console.error(JSON.stringify({ level: "error", msg: err.detail }));
      return problemResponse(err, newRequestId());
    }
    return appFor(adminPath).fetch(request, env, ctx);
  },
  async scheduled(controller, env) {
    await cleanUp(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
