/**
 * The dashboard tests' setting: keygate's built worker in workerd (scripts/local-gateway.ts)
 * with a real origin, real Chromium (browser.ts), and helpers that act as an operator would.
 */
import type { Server } from "node:http";
import type { Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { buildWorker, removeBuild, startLocalGateway, type LocalGateway } from "../../scripts/local-gateway.ts";
import { adminApi, type AdminApi } from "../support/net.ts";
import { portOf, startOrigin } from "../support/origin.ts";
import { launchChromium, type TestBrowser } from "./browser.ts";

export interface Setting {
  gateway: LocalGateway;
  origin: string;
  browser: TestBrowser;
  /** a request to the admin API with the admin token (or `token`) */
  api: AdminApi;
  /** a consumer request through the gateway with `key` */
  call(key: string, path?: string): Promise<Response>;
  /** another gateway from the same build, with its own vars and storage; stopped with the rest */
  another(vars: Record<string, string>): Promise<LocalGateway>;
}

/** Builds and starts everything before the file's tests; stops it after them. */
export function useDashboard(vars: Record<string, string> = {}): Setting {
  const setting = {} as Setting;
  let scriptPath = "";
  let origin: Server | undefined;
  const others: LocalGateway[] = [];
  beforeAll(async () => {
    setting.browser = await launchChromium();
    scriptPath = await buildWorker();
    origin = await startOrigin();
    setting.origin = `http://127.0.0.1:${portOf(origin)}`;
    // Usage batches reach D1 1 ms after their first request, so a test sees its requests soon.
    setting.gateway = await startLocalGateway({ scriptPath, vars: { UPSTREAM_URL: setting.origin, USAGE_FLUSH_MS: "1", ...vars } });
    setting.api = adminApi(setting.gateway.url, setting.gateway.adminToken);
    setting.call = (key, path = "/hello") => fetch(`${setting.gateway.url}${path}`, { headers: { Authorization: `Bearer ${key}` } });
    setting.another = async (extra) => {
      const gateway = await startLocalGateway({ scriptPath, vars: { UPSTREAM_URL: setting.origin, ...extra } });
      others.push(gateway);
      return gateway;
    };
  });
  afterAll(async () => {
    await setting.browser?.close();
    await Promise.all([setting.gateway, ...others].map((gateway) => gateway?.dispose()));
    origin?.closeAllConnections();
    if (origin) await new Promise((resolve) => origin!.close(resolve));
    if (scriptPath) await removeBuild(scriptPath);
  });
  return setting;
}

/** Opens the dashboard and signs in with `token`, as an operator types it. */
export async function signIn(page: Page, base: string, token: string, path = "/admin/ui") {
  await page.goto(`${base}${path}`);
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}
