import { ProblemError } from "../errors";
import { wellFormedKey } from "../keys/imported";
import type { Route } from "../config";
import { queryKeys } from "./routes";

/**
 * Finds the consumer's key: `Authorization: Bearer`, `X-API-Key`, or `api_key` in the
 * query where the route allows it. Two different keys in one request are refused.
 */
export function extractKey(headers: Headers, search: string, route: Route | null): string {
  const found = new Set<string>();
  const auth = headers.get("Authorization");
  let hint = "Send the key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.";
  if (auth !== null) {
    const bearer = /^bearer(?:\s+(.*))?$/is.exec(auth.trim());
    if (bearer) {
      const value = bearer[1]?.trim() ?? "";
      if (value === "") hint = "The Authorization header names the Bearer scheme but holds no key.";
      else found.add(value);
    } else {
      hint = "The Authorization header must use the Bearer scheme.";
    }
  }
  const header = headers.get("X-API-Key")?.trim();
  if (header) found.add(header);
  const fromQuery = queryKeys(search);
  if (fromQuery.length > 0) {
    if (route?.allowQueryKey) fromQuery.forEach((key) => found.add(key));
    else if (found.size === 0) hint = "This route does not accept the key in the api_key query parameter.";
  }
  if (found.size === 0) throw new ProblemError("MISSING_KEY", hint);
  if (found.size > 1) throw new ProblemError("MALFORMED_KEY", "The request carries more than one key; send exactly one.");
  return [...found][0];
}

/**
 * Check 2: rejects anything that is neither a keygate key whose checksum matches nor a key with
 * one of IMPORTED_KEY_PREFIXES (16 to 256 printable ASCII characters), before any storage is touched.
 */
export function requireWellFormed(key: string, prefixes: readonly string[]): void {
  if (!wellFormedKey(key, prefixes)) {
    throw new ProblemError(
      "MALFORMED_KEY",
      "The key is not a keygate key: check it was copied whole (its checksum does not match).",
    );
  }
}
