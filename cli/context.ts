import type { Command } from "commander";
import type { KeygateClient } from "../client/index.ts";
import type { Output } from "./output/index.ts";

/** What every command works with: the admin API's client, the output, and the output mode. */
export interface Context {
  client: KeygateClient;
  out: Output;
  /** print the API's JSON instead of tables */
  json: boolean;
}

/** Builds the Context for a command once its options are parsed (cli/program.ts). */
export type ContextFor = (command: Command) => Context;
