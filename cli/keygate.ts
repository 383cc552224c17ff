#!/usr/bin/env node
// keygate: the operator CLI (DESIGN.md, "Operator CLI"). Inside the repository: `npx keygate --help`.
import { run } from "./program.ts";

process.exitCode = await run(process.argv.slice(2));
