import type { TestProject } from "vitest/node";
import { portOf, startOrigin } from "./origin.ts";
import { closeTenants, startIdentityProvider } from "./idp.ts";

declare module "vitest" {
  export interface ProvidedContext {
    originPort: number;
    idpPort: number;
  }
}

/** One real origin server on loopback for the whole run, and a stand-in identity provider (idp.ts). */
export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  const idp = await startIdentityProvider();
  project.provide("originPort", portOf(origin));
  project.provide("idpPort", portOf(idp));
  return async () => {
    await closeTenants();
    for (const server of [origin, idp]) server.closeAllConnections();
    await Promise.all([origin, idp].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };
}
