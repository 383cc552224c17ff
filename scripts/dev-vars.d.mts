/** Types of scripts/dev-vars.mjs, for the TypeScript that uses it (the docs examples' runner). */
export function generateAdminToken(): string;
export function generateAssertionJwk(): string;
export function readDevVars(path: string): Record<string, string>;
export function ensureDevVars(path: string): { values: Record<string, string>; created: string[] };
