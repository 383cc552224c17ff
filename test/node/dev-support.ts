/**
 * `npm run dev` as a newcomer runs it, for the tests that drive it (dev.test.ts,
 * dev-logs.test.ts). The dev server keeps its secrets in a temp file (KEYGATE_DEV_VARS) and its
 * state in a temp --persist-to, so the developer's own .dev.vars and .wrangler/state are never
 * touched.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { freePort } from "../support/net.ts";

const root = path.resolve(import.meta.dirname, "../..");

export const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface DevServer {
  base: string;
  output: () => string;
  /** Signals npm (or its whole group); true when every process of the group exited within 15 s. */
  stop: (signal: NodeJS.Signals, whole?: boolean) => Promise<boolean>;
}

export interface Dev {
  /** the temp directory the file's dev servers share, removed after the file */
  tmp: string;
  devVars: string;
  persist: string;
  /** `npm run dev -- ARGS` in its own process group; resolves once it prints its next steps. */
  startDev(args: string[], demoPort: number, env?: Record<string, string>): Promise<DevServer>;
}

/** A temp secrets file and state directory for this test file, and the dev servers it starts, all gone after it. */
export function useDev(): Dev {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "keygate-dev-"));
  const devVars = path.join(tmp, "dev.vars");
  const persist = path.join(tmp, "state");
  const running = new Set<DevServer>();

  afterAll(async () => {
    await Promise.all([...running].map((server) => server.stop("SIGKILL")));
    rmSync(tmp, { recursive: true, force: true });
  });

  async function startDev(args: string[], demoPort: number, env: Record<string, string> = {}): Promise<DevServer> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child: ChildProcess = spawn("npm", ["run", "dev", "--", "--port", String(port), "--persist-to", persist, ...args], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      // WRANGLER_HIDE_BANNER also skips wrangler's update check: the test stays on loopback.
      env: { ...process.env, KEYGATE_DEV_VARS: devVars, KEYGATE_DEMO_PORT: String(demoPort), WRANGLER_HIDE_BANNER: "true", ...env },
    });
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const server: DevServer = {
      base,
      output: () => output,
      async stop(signal, whole = true) {
        const pid = child.pid!;
        if (groupAlive(pid)) process.kill(whole ? -pid : pid, signal);
        const deadline = Date.now() + 15_000;
        while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const clean = !groupAlive(pid);
        if (!clean) process.kill(-pid, "SIGKILL");
        await exited;
        running.delete(server);
        return clean;
      },
    };
    running.add(server);
    const ready = `keygate is ready on ${base}`;
    const deadline = Date.now() + 75_000;
    while (!output.includes(ready)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm run dev did not get ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return server;
  }

  return { tmp, devVars, persist, startDev };
}

/** A request with a bearer token and a JSON body type, as the README's curl lines send it. */
export const call = (url: string, token: string, init: RequestInit = {}) =>
  fetch(url, { ...init, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers } });
