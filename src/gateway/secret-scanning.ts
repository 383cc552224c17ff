import type { Context } from "hono";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { hashKey } from "../keys/format";
import { getDb } from "../store/db";
import { findByHash } from "../store/keys";
import { KEY_START_CHARS } from "../store/security-events";
import { verifyReport } from "../events/github";
import { handleLeak } from "../lifecycle/rules";
import type { LifecycleEnv } from "../lifecycle/keys";
import { usageBuffer } from "../analytics/buffer";
import { clip } from "../analytics/writer";
import { clientIp } from "../middleware";

/**
 * `POST /.well-known/keygate/secret-scanning/github`: GitHub's secret-scanning partner
 * endpoint (DESIGN.md, "Lifecycle rules"; docs/events.md has how to register it). A report
 * that does not verify changes nothing (401); neither does one that cannot be verified because
 * GitHub's keys cannot be fetched (503, so GitHub sends it again).
 */

/** The audit actor of a leak GitHub reported. */
export const GITHUB_ACTOR = "github-secret-scanning";

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_TOKENS = 1000;

interface ReportedToken {
  token: string;
  type: string | null;
  url: string | null;
  source: string | null;
}

const invalid = (detail: string) => new ProblemError("VALIDATION_FAILED", detail);

function parseReport(body: Uint8Array): ReportedToken[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw invalid("The report is not JSON: GitHub sends a JSON array of { token, type, url, source }.");
  }
  if (!Array.isArray(parsed)) throw invalid("The report must be a JSON array of { token, type, url, source }.");
  if (parsed.length > MAX_TOKENS) throw invalid(`A report holds at most ${MAX_TOKENS} tokens.`);
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  return parsed.map((item, i) => {
    const token = (item as { token?: unknown } | null)?.token;
    if (typeof token !== "string" || token.length === 0 || token.length > 4096) throw invalid(`Item ${i} has no token string.`);
    const { type, url, source } = item as Record<string, unknown>;
    return { token, type: text(type), url: text(url), source: text(source) };
  });
}

async function readBody(c: Context<AppEnv>): Promise<Uint8Array> {
  const declared = Number(c.req.header("Content-Length") ?? 0);
  if (declared > MAX_BODY_BYTES) throw new ProblemError("PAYLOAD_TOO_LARGE", `A report is at most ${MAX_BODY_BYTES} bytes.`);
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.byteLength > MAX_BODY_BYTES) throw new ProblemError("PAYLOAD_TOO_LARGE", `A report is at most ${MAX_BODY_BYTES} bytes.`);
  return body;
}

export async function secretScanningReport(c: Context<AppEnv>): Promise<Response> {
  const { config } = c.get("services");
  const body = await readBody(c);
  const verdict = await verifyReport(
    config.secretScanningKeysUrl,
    c.req.header("Github-Public-Key-Identifier") ?? null,
    c.req.header("Github-Public-Key-Signature") ?? null,
    body,
  );
  if (verdict === "keys-unavailable") {
    throw new ProblemError("GATEWAY_UNAVAILABLE", "GitHub's secret-scanning keys cannot be fetched, so the report cannot be verified; nothing was changed.", {
      headers: { "Retry-After": "60" },
    });
  }
  if (verdict !== "verified") {
    const why = verdict === "unknown-key" ? "its key identifier names no key GitHub publishes" : "its signature does not verify";
    throw new ProblemError("UNAUTHORIZED", `This report is not from GitHub: ${why}. Nothing was changed.`);
  }
  const report = parseReport(body);
  const ip = clientIp(c.req.raw.headers);
  const lifecycle: LifecycleEnv = {
    env: c.env,
    services: c.get("services"),
    audit: { actor: GITHUB_ACTOR, requestId: c.get("requestId"), clientIp: ip },
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  };
  const db = getDb(c.env.DB);
  const labels = new Map<string, "true_positive" | "false_positive">();
  const answer = [];
  for (const item of report) {
    const tokenHash = await hashKey(item.token);
    if (!labels.has(tokenHash)) {
      const key = await findByHash(db, tokenHash);
      labels.set(tokenHash, key ? "true_positive" : "false_positive");
      if (key) {
        const outcome = await handleLeak(lifecycle, key, { tokenHash, type: item.type, url: item.url, source: item.source }, config.leakAction);
        if (outcome === "handled") {
          usageBuffer().recordSecurity(
            {
              at: Date.now(),
              code: "KEY_LEAKED",
              ip,
              country: String(c.req.raw.cf?.country ?? "") || null,
              userAgent: clip(c.req.header("User-Agent") ?? "") || null,
              method: c.req.method,
              path: clip(c.req.path),
              route: null,
              keyStart: item.token.slice(0, KEY_START_CHARS),
              keyId: key.id,
              requestId: c.get("requestId"),
            },
            c.executionCtx,
            config.usageFlushMs,
          );
        }
      }
    }
    answer.push({ token_hash: tokenHash, token_type: item.type, label: labels.get(tokenHash)! });
  }
  c.header("Cache-Control", "no-store");
  return c.json(answer, 200);
}
