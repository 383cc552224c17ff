import { ProblemError } from "../errors";

/**
 * Opaque page cursors: the last id of a page, signed with HMAC-SHA256 under a key derived
 * from ADMIN_TOKEN, so a cursor that was edited is refused instead of silently honoured.
 */

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(`keygate cursor\n${secret}`),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, key);
  }
  return key;
}

const b64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** Only the one spelling b64url gives: otherwise unused low bits of the last character could vary. */
function unb64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bytes = Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (ch) => ch.charCodeAt(0));
    return b64url(bytes) === text ? bytes : null;
  } catch {
    return null;
  }
}

export async function encodeCursor(secret: string, kind: string, lastId: string): Promise<string> {
  const payload = new TextEncoder().encode(`${kind}:${lastId}`);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), payload));
  return `${b64url(payload)}.${b64url(mac.slice(0, 16))}`;
}

/** The id a cursor points after; VALIDATION_FAILED for anything this API did not issue. */
export async function decodeCursor(secret: string, kind: string, cursor: string): Promise<string> {
  const invalid = new ProblemError(
    "VALIDATION_FAILED",
    "cursor is not one this API issued: pass nextCursor from the previous page unchanged.",
    { extensions: { issues: [{ path: "cursor", message: "invalid cursor" }] } },
  );
  const [payloadText, macText, extra] = cursor.split(".");
  const payload = unb64url(payloadText ?? "");
  const mac = unb64url(macText ?? "");
  if (extra !== undefined || !payload || !mac || mac.length !== 16) throw invalid;
  const expected = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), payload)).slice(0, 16);
  if (!crypto.subtle.timingSafeEqual(expected, mac)) throw invalid;
  const text = new TextDecoder().decode(payload);
  if (!text.startsWith(`${kind}:`)) throw invalid;
  return text.slice(kind.length + 1);
}
