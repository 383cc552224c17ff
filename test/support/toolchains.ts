import { execFileSync } from "node:child_process";

/**
 * Outside tools some tests use as clients nobody on the project wrote (Python's PyJWT, say).
 * `npm test` on a machine without one skips what needs it, saying so on the console; CI
 * (`CI` set, as `.ci/run` sets it after installing them) never skips: there a missing tool is
 * a failure.
 */
export function pythonWith(...modules: string[]): boolean {
  let found: boolean;
  try {
    execFileSync("/usr/bin/python3", ["-c", `import ${modules.join(", ")}`], { stdio: "ignore" });
    found = true;
  } catch {
    found = false;
  }
  if (!found && process.env.CI) throw new Error(`CI needs /usr/bin/python3 with ${modules.join(", ")} (.ci/run installs them)`);
  if (!found) console.warn(`skipped: the checks that need /usr/bin/python3 with ${modules.join(", ")} (apt-get install python3-jwt python3-cryptography; .ci/run does)`);
  return found;
}
