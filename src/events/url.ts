/**
 * Whether a webhook URL may be used (DESIGN.md: `https:`, `http:` only for loopback): null
 * when it may, else why not. Credentials in the URL are refused: they would be sent to the
 * receiver in the clear of every log line that shows the URL, and the signature already
 * authenticates keygate.
 */
export function webhookUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute URL, like https://example.com/webhooks";
  }
  if (url.username || url.password) return "must not hold credentials (user:password@): receivers check the signature instead";
  if (url.hash) return "must not have a fragment (#…)";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:") {
    return loopback(url.hostname) ? null : "must use https: (http: only for a loopback address such as 127.0.0.1 or localhost)";
  }
  return "must use https: (http: only for a loopback address such as 127.0.0.1 or localhost)";
}

/** 127.0.0.0/8, ::1 and localhost (with its subdomains, which resolve to loopback). */
function loopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "[::1]") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
