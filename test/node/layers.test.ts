import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The import graph reads top to bottom (STYLE.md, "Layout that shows the architecture"): each
 * arrow points down a layer, and no file reaches itself through its imports. Type imports
 * count: a type a lower layer needs lives in that layer.
 */

const ROOT = resolve(new URL("../..", import.meta.url).pathname);

/**
 * The worker's layers, lowest first. A file may import files of its own folder and of lower
 * layers; folders that share a layer never import each other.
 */
const WORKER_LAYERS: string[][] = [
  ["src/keys", "src/http"],
  ["src/owners"],
  ["src/errors.ts"],
  ["src/config.ts"],
  ["src/store"],
  // Below admission: the admission objects raise events (src/events/notice.ts). What needs the
  // key lifecycle (the leak endpoint, carrying out a suspension) lives at the top instead.
  ["src/events"],
  ["src/admission", "src/analytics", "src/identity"],
  ["src/context.ts"],
  ["src/middleware.ts"],
  ["src/lifecycle", "src/api"],
  ["src/gateway", "src/admin", "src/portal"],
  ["src/app.ts", "src/scheduled.ts", "src/queue.ts"],
  ["src/index.ts"],
];

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return filesUnder(path);
    return /\.(ts|tsx|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every relative import and re-export of a file, type-only ones included, as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']/g)].map((m) => m[1]);
  specifiers.push(...[...text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]));
  return specifiers
    .filter((s) => s.startsWith("."))
    .map((s) => {
      const base = relative(ROOT, resolve(ROOT, dirname(file), s));
      for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts")]) {
        try {
          if (statSync(join(ROOT, candidate)).isFile()) return candidate;
        } catch {
          // not this one
        }
      }
      return base;
    });
}

function graphOf(files: string[]): Map<string, string[]> {
  return new Map(files.map((file) => [file, importsOf(file).filter((target) => files.includes(target))]));
}

/** Every cycle, each as the files it passes through, found by depth-first search. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

function layerOf(file: string): { layer: number; unit: string } | null {
  for (const [layer, units] of WORKER_LAYERS.entries()) {
    for (const unit of units) if (file === unit || file.startsWith(`${unit}/`)) return { layer, unit };
  }
  return null;
}

describe("the worker's import graph", () => {
  const files = filesUnder("src");
  const graph = graphOf(files);

  it("places every file in a layer", () => {
    expect(files.filter((file) => layerOf(file) === null)).toEqual([]);
  });

  it("has no cycle", () => {
    expect(cycles(graph).map((cycle) => cycle.join(" → "))).toEqual([]);
  });

  it("points every arrow down a layer, or within one folder", () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file)!;
      for (const target of targets) {
        const to = layerOf(target)!;
        if (to.unit === from.unit) continue;
        if (to.layer >= from.layer) upward.push(`${file} → ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("keeps keys/ and http/ free of the rest of keygate", () => {
    const reaching = [...graph].flatMap(([file, targets]) =>
      ["src/keys/", "src/http/"].some((dir) => file.startsWith(dir))
        ? targets.filter((t) => !t.startsWith(file.slice(0, file.indexOf("/", 4) + 1))).map((t) => `${file} → ${t}`)
        : [],
    );
    expect(reaching).toEqual([]);
  });
});

describe("the CLI's import graph", () => {
  it("has no cycle", () => {
    const graph = graphOf([...filesUnder("cli"), ...filesUnder("client")]);
    expect(cycles(graph).map((cycle) => cycle.join(" → "))).toEqual([]);
  });
});
