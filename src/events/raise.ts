import { newId } from "../store/db";
import { diff } from "../store/audit";
import { toRecord, type StoredKey } from "../keys/record";
import type { EventType, RaisedEvent } from "./types";

/** A new event of `type`, raised now. */
export function raise(type: EventType, data: Record<string, unknown>, keyId?: string, at = Date.now()): RaisedEvent {
  return { id: newId("evt"), type, at, ...(keyId ? { keyId } : {}), data };
}

/** An event about a key, with its record as the change left it in `data.key` (never a secret: no hash, no key). */
export const keyEvent = (type: EventType, key: StoredKey, extra: Record<string, unknown> = {}, at?: number): RaisedEvent =>
  raise(type, { key: toRecord(key), ...extra }, key.id, at);

/** `key.updated`, with what changed (as the audit log shows it). */
export const keyUpdated = (before: StoredKey, after: StoredKey, at?: number): RaisedEvent =>
  keyEvent("key.updated", after, { changes: diff(before, after) }, at);

/** The payload a receiver gets: `{ type, timestamp, data }` (Standard Webhooks). */
export function payload(event: RaisedEvent): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.at).toISOString(), data: event.data });
}
