// Builds the static assets the worker serves under ADMIN_PATH/assets/ (wrangler.toml, [assets]):
//   ui/app.js, ui/app.css, ui/favicon.svg   the dashboard (dashboard/), bundled and minified by esbuild
//   portal/app.js, portal/app.css, portal/favicon.svg   the key holders' portal (portal/), the same way; served under PORTAL_PATH/assets/
//   docs/scalar.js, docs/scalar.css          the API reference, @scalar/api-reference's standalone build
//   docs/init.js                             starts it (a file, since the pages run no inline script)
// wrangler runs this before `wrangler dev`, `wrangler deploy` and `npm run build` ([build] in
// wrangler.toml); the Node tests and the benchmark build through wrangler too, so all serve the same files.
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ASSETS_DIR = path.join(root, "dist-assets");

/**
 * Builds into a fresh directory and then swaps it in, so a gateway already serving the old
 * files (a test run beside `npm run dev`) never finds the directory half written.
 */
async function buildAssets(target = ASSETS_DIR) {
  const outdir = `${target}.${process.pid}.tmp`;
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: [
      { in: "dashboard/main.tsx", out: "ui/app" },
      { in: "dashboard/app.css", out: "ui/app" },
      { in: "portal/main.tsx", out: "portal/app" },
      { in: "portal/app.css", out: "portal/app" },
    ],
    outdir,
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "hono/jsx/dom",
    legalComments: "none",
    logLevel: "warning",
  });
  const scalar = path.join(root, "node_modules/@scalar/api-reference/dist");
  await mkdir(path.join(outdir, "docs"), { recursive: true });
  await Promise.all([
    copyFile(path.join(root, "dashboard/favicon.svg"), path.join(outdir, "ui/favicon.svg")),
    copyFile(path.join(root, "portal/favicon.svg"), path.join(outdir, "portal/favicon.svg")),
    copyFile(path.join(scalar, "browser/standalone.js"), path.join(outdir, "docs/scalar.js")),
    copyFile(path.join(scalar, "style.css"), path.join(outdir, "docs/scalar.css")),
    copyFile(path.join(root, "dashboard/docs-init.js"), path.join(outdir, "docs/init.js")),
  ]);
  const old = `${target}.${process.pid}.old`;
  await rename(target, old).catch((err) => {
    if (err.code !== "ENOENT") throw err;
  });
  await rename(outdir, target);
  await rm(old, { recursive: true, force: true });
}

await buildAssets();
