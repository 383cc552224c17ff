/**
 * An owner's version as the gateway and the admission objects compare it: the owner record's
 * version and its plan's, `<owner version>.<plan version>` (a plan's changes move the second, a
 * change of plan moves the first). Pure: imports nothing of keygate's.
 */
export const ownerVersion = (owner: number, plan: number | null): string => `${owner}.${plan ?? 0}`;

/** Whether version `a` is newer than `b` (a null `b`: nothing known yet). */
export function newerOwnerVersion(a: string, b: string | null): boolean {
  if (b === null) return true;
  const [ao, ap] = a.split(".").map(Number);
  const [bo, bp] = b.split(".").map(Number);
  return ao > bo || (ao === bo && ap > bp);
}
