import type { TestProject } from "vitest/node";
import { portOf, startOrigin } from "./origin.ts";

declare module "vitest" {
  export interface ProvidedContext {
    originPort: number;
  }
}

/** One real origin server on loopback for the whole run. */
export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  project.provide("originPort", portOf(origin));
  return () => new Promise<void>((resolve) => origin.close(() => resolve()));
}
