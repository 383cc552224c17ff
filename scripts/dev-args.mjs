// Reads the options `npm run dev -- ARGS` hands on to `wrangler dev` that keygate's dev
// script needs to know about. ARGS themselves are passed on unchanged.

/** Options taking one value, and the array options (yargs lets these take several values). */
const SINGLE = new Map([
  ["--port", "port"],
  ["--ip", "ip"],
  ["--persist-to", "persistTo"],
  ["--config", "config"],
  ["-c", "config"],
  ["--env", "env"],
  ["-e", "env"],
  ["--local-protocol", "protocol"],
]);
const MULTI = new Map([
  ["--var", "vars"],
  ["--env-file", "envFiles"],
]);

export function parseDevArgs(args) {
  const found = { vars: {}, envFiles: [] };
  const take = (key, value) => {
    if (key === "vars") {
      const at = value.indexOf(":");
      if (at > 0) found.vars[value.slice(0, at)] = value.slice(at + 1);
    } else if (key === "envFiles") found.envFiles.push(value);
    else found[key] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : [args[i], undefined];
    const key = SINGLE.get(flag) ?? MULTI.get(flag);
    if (!key) continue;
    if (inline !== undefined) {
      take(key, inline);
    } else if (MULTI.has(flag)) {
      while (i + 1 < args.length && !args[i + 1].startsWith("-")) take(key, args[++i]);
    } else if (i + 1 < args.length) {
      take(key, args[++i]);
    }
  }
  return found;
}

/** The address to poll and to print: wildcard addresses are reached through loopback. */
export function reachableHost(ip) {
  if (!ip || ip === "0.0.0.0" || ip === "*") return "127.0.0.1";
  if (ip === "::" || ip === "[::]") return "[::1]";
  return ip.includes(":") && !ip.startsWith("[") ? `[${ip}]` : ip;
}
