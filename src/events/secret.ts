import { Webhook } from "standardwebhooks";

/** A new endpoint secret: `whsec_` and the base64 of 32 random bytes (DESIGN.md). */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` under
 * each secret's bytes, separated by spaces (a receiver accepts any one it can verify). Signed
 * with the `standardwebhooks` package, the reference implementation receivers verify with.
 */
export function signatures(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(id, new Date(timestamp * 1000), body)).join(" ");
}
