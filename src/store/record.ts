import type { KeyRow } from "./schema";
import type { StoredKey } from "../keys/record";

/** `start` is "" in D1 for a key imported by its hash alone (docs/storage.md, "keys"). */
export function fromRow(row: KeyRow): StoredKey {
  return {
    ...row,
    start: row.start === "" ? null : row.start,
    scopes: JSON.parse(row.scopes),
    metadata: JSON.parse(row.metadata),
    allowedIps: JSON.parse(row.allowedIps),
    ratelimits: JSON.parse(row.ratelimits),
    credits: row.credits === null ? null : JSON.parse(row.credits),
  };
}

export function toRow(key: StoredKey): KeyRow {
  return {
    ...key,
    start: key.start ?? "",
    imported: key.imported ?? false,
    scopes: JSON.stringify(key.scopes),
    metadata: JSON.stringify(key.metadata),
    allowedIps: JSON.stringify(key.allowedIps),
    ratelimits: JSON.stringify(key.ratelimits),
    credits: key.credits === null ? null : JSON.stringify(key.credits),
    suspendedUntil: key.suspendedUntil ?? null,
  };
}
