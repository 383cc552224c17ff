import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

const NODE_ONLY = {
  group: ["node:*", "fs", "path", "os", "child_process"],
  message: "client/, dashboard/ and portal/ run in browsers; Node-only code lives in cli/ and scripts/.",
};

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "dist-assets/", ".wrangler/", "worker-configuration.d.ts", "migrations/", "bench/results.json"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-control-regex": "off",
    },
  },
  {
    // The API clients also run in browsers (the dashboard, the portal): nothing Node-only in them.
    files: ["client/**", "dashboard/**", "portal/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [NODE_ONLY] }],
      "no-restricted-globals": ["error", "process", "Buffer", "require", "__dirname"],
    },
  },
  {
    // hono/jsx runs useEffect on a later animation frame, even for a component already gone
    // (see useLoad in dashboard/data.tsx): the dashboard's and the portal's effects run with their render.
    files: ["dashboard/**", "portal/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [NODE_ONLY],
          paths: [{ name: "hono/jsx/dom", importNames: ["useEffect"], message: "Use useLayoutEffect: it runs with the render that drew the page." }],
        },
      ],
    },
  },
  {
    // scripts, bench and configs run in Node
    files: ["**/*.mjs", "**/*.js"],
    ignores: ["dashboard/**"],
    languageOptions: { globals: globals.node },
  },
  {
    // the dashboard and the API reference page run in browsers
    files: ["dashboard/**/*.js"],
    languageOptions: { globals: globals.browser },
  },
);
