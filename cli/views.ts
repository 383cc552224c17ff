/** How keys, verdicts and usage figures read in a terminal; --json prints the API's JSON instead. */
import type { KeyRecord, RequestEntry, UsageCounts, VerifyResult } from "../client/index.ts";
import type { Paint } from "./output/colour.ts";
import type { Column } from "./output/index.ts";
import { count, creditsText, keyStatus, rateLimitsText, relativeTime, startText, whenExactly, type KeyStatus } from "../client/format.ts";

export { duration } from "../client/format.ts";

export const paintStatus = (paint: Paint, status: KeyStatus, text: string = status) =>
  status === "active" ? paint.green(text) : status === "disabled" || status === "suspended" ? paint.yellow(text) : paint.red(text);


function statusText(key: KeyRecord, now: number): string {
  const status = keyStatus(key, now);
  if (status === "revoked") return `revoked ${relativeTime(key.revokedAt!, now)}`;
  if (status === "expired") return `expired ${relativeTime(key.expiresAt!, now)}`;
  return status;
}

/** One key, label by label. */
export function keyFields(key: KeyRecord, now = Date.now()): [string, string][] {
  return [
    ["ID", key.id],
    ["Name", key.name],
    ["Owner", key.ownerId],
    ["Environment", key.environment],
    ["Start", startText(key)],
    ...(key.imported ? [["Imported", "yes"] as [string, string]] : []),
    ["Status", statusText(key, now)],
    ["Scopes", key.scopes.join(" ") || "none"],
    ["Rate limits", rateLimitsText(key.ratelimits)],
    ["Credits", creditsText(key.credits)],
    ["Allowed IPs", key.allowedIps.join(", ") || "any"],
    ["Metadata", JSON.stringify(key.metadata)],
    ["Expires", key.expiresAt ? whenExactly(key.expiresAt, now) : "never"],
    ...(key.suspendedUntil && Date.parse(key.suspendedUntil) > now ? [["Suspended until", whenExactly(key.suspendedUntil, now)] as [string, string]] : []),
    ["Last used", key.lastUsedAt ? relativeTime(key.lastUsedAt, now) : "never"],
    ["Requests", count(key.usageCount)],
    ...(key.rotatedFrom ? [["Rotated from", key.rotatedFrom] as [string, string]] : []),
    ["Created", whenExactly(key.createdAt, now)],
    ["Updated", relativeTime(key.updatedAt, now)],
    ["Version", String(key.version)],
  ];
}

/** The columns of `keys list`; LAST USED goes first when the terminal is narrow. */
export function keyColumns(paint: Paint, now = Date.now()): Column<KeyRecord>[] {
  return [
    { header: "ID", value: (k) => k.id },
    { header: "START", value: (k) => startText(k), min: 12 },
    { header: "NAME", value: (k) => k.name, min: 8 },
    { header: "OWNER", value: (k) => k.ownerId, min: 8 },
    { header: "STATUS", value: (k) => keyStatus(k, now), style: (cell, k) => paintStatus(paint, keyStatus(k, now), cell) },
    { header: "LAST USED", value: (k) => (k.lastUsedAt ? relativeTime(k.lastUsedAt, now) : "never"), drop: 1 },
  ];
}

/** The columns of `keys requests`; the client's address and the origin's time go first when the terminal is narrow. */
export function requestColumns(paint: Paint, now = Date.now()): Column<RequestEntry>[] {
  return [
    { header: "WHEN", value: (r) => relativeTime(r.at, now) },
    { header: "METHOD", value: (r) => r.method },
    { header: "PATH", value: (r) => r.path, min: 10 },
    {
      header: "STATUS",
      value: (r) => String(r.status),
      align: "right",
      style: (cell, r) => (r.status >= 500 ? paint.red(cell) : r.status >= 400 ? paint.yellow(cell) : paint.green(cell)),
    },
    // an entry that stands for several refusals of a dead key says how many
    { header: "OUTCOME", value: (r) => (r.count ? `${r.outcome} ×${r.count}` : r.outcome), min: 8 },
    { header: "MS", value: (r) => String(r.gatewayMs + (r.upstreamMs ?? 0)), align: "right" },
    { header: "IP", value: (r) => r.ip ?? "", drop: 1 },
    { header: "REQUEST ID", value: (r) => r.requestId, drop: 2 },
  ];
}

const fromNow = (seconds: number, now: number) => relativeTime(new Date(now + seconds * 1000).toISOString(), now);

export function verdictFields(result: VerifyResult, paint: Paint, now = Date.now()): [string, string][] {
  const fields: [string, string][] = [
    ["Valid", result.valid ? paint.green("yes") : paint.red(`no (${result.code})`)],
    ["Code", result.code],
  ];
  if (result.keyId) fields.push(["Key", result.keyId], ["Owner", result.ownerId ?? ""], ["Scopes", result.scopes?.join(" ") || "none"]);
  if (result.ratelimits) {
    const limits = result.ratelimits.map((r) => `${r.name}: ${count(r.remaining)} of ${count(r.limit)} left, resets ${fromNow(r.reset, now)}`);
    fields.push(["Rate limits", limits.join("; ") || "none"]);
  }
  if (result.credits) {
    const refill = result.credits.refillIn === null ? "no refill" : `refills ${fromNow(result.credits.refillIn, now)}`;
    fields.push(["Credits", `${count(result.credits.remaining)} left, ${refill}`]);
  }
  return fields;
}

/** Usage counts as columns after a first column (a time, a key, a route or a status). */
export function countColumns<Row extends UsageCounts>(first: Column<Row>): Column<Row>[] {
  const figure = (header: string, pick: (row: Row) => number, drop?: number): Column<Row> => ({
    header,
    value: (row) => count(pick(row)),
    align: "right",
    drop,
  });
  return [
    first,
    figure("REQUESTS", (r) => r.requests),
    figure("ALLOWED", (r) => r.allowed),
    figure("LIMITED", (r) => r.rateLimited),
    figure("QUOTA", (r) => r.quotaExhausted),
    figure("DENIED", (r) => r.denied),
    figure("CREDITS", (r) => r.creditsUsed, 1),
  ];
}

export const USAGE_COLUMNS_HELP = `
Columns: REQUESTS in all; ALLOWED proxied; LIMITED refused by a rate limit;
QUOTA refused for lack of credits; DENIED refused for any other reason;
CREDITS credits used.`;
