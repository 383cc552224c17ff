import type { Role } from "../config";

/**
 * Operators' roles (DESIGN.md, "Operators' sign-in and roles"): `viewer` reads everything;
 * `operator` also creates, changes, rotates and revokes keys and owners and makes portal links;
 * `admin` also manages plans and webhooks.
 */
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export const atLeast = (role: Role, least: Role): boolean => RANK[role] >= RANK[least];

/**
 * The role `roles` gives an email: its own entry first, else its domain's (`*@example.com`).
 * Emails are compared without regard to case; null when no entry maps it.
 */
export function roleOf(email: string, roles: Readonly<Record<string, Role>>): Role | null {
  const address = email.toLowerCase();
  if (Object.hasOwn(roles, address)) return roles[address];
  const domain = `*@${address.slice(address.lastIndexOf("@") + 1)}`;
  return Object.hasOwn(roles, domain) ? roles[domain] : null;
}
