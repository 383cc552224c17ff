/**
 * Scopes are `<resource>:<action>`. A key may hold wildcards: `posts:*`, `*:read`, `*`.
 * Wildcards never grant the `admin` resource (DESIGN.md, "Admin API"): only an exact
 * `admin:read` or `admin:write` does.
 */

const PART = "[A-Za-z0-9_.\\-/]{1,64}";
/** What a key may hold: `*`, `resource:action`, `resource:*` or `*:action`. */
export const SCOPE_PATTERN = new RegExp(`^(\\*|(${PART}|\\*):(${PART}|\\*))$`);

export function scopeGrants(held: string, required: string): boolean {
  if (held === required) return true;
  const cut = required.indexOf(":");
  const resource = required.slice(0, cut);
  const action = required.slice(cut + 1);
  if (cut < 0 || resource === "admin") return false;
  if (held === "*" || held === "*:*") return true;
  const heldCut = held.indexOf(":");
  const heldResource = held.slice(0, heldCut);
  const heldAction = held.slice(heldCut + 1);
  return (heldResource === "*" || heldResource === resource) && (heldAction === "*" || heldAction === action);
}

/** The required scopes the key does not hold; empty when every one is granted. */
export function missingScopes(held: readonly string[], required: readonly string[]): string[] {
  return required.filter((need) => !held.some((have) => scopeGrants(have, need)));
}

/**
 * Whether holding `ceiling` lets a key be given `scope`, wildcards included: `posts:*` covers
 * `posts:read` and `posts:*`, `*` covers everything but the admin resource; `posts:read` does
 * not cover `posts:*`. No ceiling covers an `admin` scope.
 */
export function scopeCovers(ceiling: string, scope: string): boolean {
  const [resource, action] = scope === "*" ? ["*", "*"] : [scope.slice(0, scope.indexOf(":")), scope.slice(scope.indexOf(":") + 1)];
  if (resource === "admin") return false;
  if (ceiling === "*" || ceiling === "*:*" || ceiling === scope) return true;
  const cut = ceiling.indexOf(":");
  if (cut < 0) return false;
  const [heldResource, heldAction] = [ceiling.slice(0, cut), ceiling.slice(cut + 1)];
  return (heldResource === "*" || heldResource === resource) && (heldAction === "*" || heldAction === action);
}

/** The scopes no scope of `ceiling` covers; empty when every one fits. */
export function beyondCeiling(ceiling: readonly string[], scopes: readonly string[]): string[] {
  return scopes.filter((scope) => !ceiling.some((held) => scopeCovers(held, scope)));
}
