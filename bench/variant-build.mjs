/**
 * Builds keygate with parts of src/ changed by textual patches applied as esbuild loads
 * each file, so diagnostics can compare variants without touching src/. esbuild is the
 * bundler wrangler itself uses; the options follow wrangler's for Workers.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";

const ROOT = new URL("..", import.meta.url).pathname;

/** esbuild's options for a Worker module, as wrangler bundles one (entry and output aside). */
export const WORKER_BUILD = {
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*", "node:*"],
  logLevel: "error",
};

/**
 * @param {Record<string, [RegExp, string][]>} patches  file under src/ -> [pattern, replacement][];
 *   every pattern must match, or the build fails naming it (src/ moved on).
 * @param {string} outdir
 * @param {string} [entry]  the entry module, from the repository's root
 */
export async function bundleVariant(patches, outdir, entry = "bench/worker.ts") {
  const outfile = join(outdir, "worker.js");
  const applied = new Set();
  await build({
    ...WORKER_BUILD,
    entryPoints: [join(ROOT, entry)],
    outfile,
    plugins: [
      {
        name: "patch-src",
        setup(b) {
          b.onLoad({ filter: /\/src\/.*\.ts$/ }, async ({ path }) => {
            let contents = await readFile(path, "utf8");
            const rel = path.slice(path.lastIndexOf("/src/") + 5);
            for (const [pattern, replacement] of patches[rel] ?? []) {
              if (!pattern.test(contents)) throw new Error(`patch ${pattern} no longer matches src/${rel}`);
              contents = contents.replace(pattern, replacement);
              applied.add(`${rel} ${pattern}`);
            }
            return { contents, loader: "ts" };
          });
        },
      },
    ],
  });
  const wanted = Object.entries(patches).flatMap(([rel, list]) => list.map(([p]) => `${rel} ${p}`));
  const missing = wanted.filter((p) => !applied.has(p));
  if (missing.length) throw new Error(`patches not applied: ${missing.join(", ")}`);
  return outfile;
}
