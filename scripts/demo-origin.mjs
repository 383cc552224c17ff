// The demo origin `npm run dev` starts: it answers every request with JSON describing what
// it received ({ method, path, query, headers, body }), so you can see the identity keygate
// adds (X-Keygate-Key-Id, X-Keygate-Owner-Id, X-Keygate-Assertion, ...). It also stands in for
// a webhook receiver: a delivery (a POST with a `webhook-id` header) is answered 204 and logged
// with its event type, its id and the key it is about (README, "Webhooks").
// Standalone: `npm exec -- node scripts/demo-origin.mjs [port]` (default 8788).
import http from "node:http";
import { pathToFileURL } from "node:url";

export const DEMO_ORIGIN_PORT = 8788;
const MAX_ECHO_BYTES = 1024 * 1024;

/** Repeated query parameters become arrays, single ones stay strings. */
function queryObject(searchParams) {
  const query = {};
  for (const [name, value] of searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

/** One line about a webhook delivery: `webhook key.revoked evt_… key=key_… (signature v1,…)`. */
function deliveryLine(req, text) {
  let type = "?";
  let key = "-";
  try {
    const payload = JSON.parse(text);
    type = payload.type ?? "?";
    key = payload.data?.key?.id ?? "-";
  } catch {
    // not JSON: logged as it is
  }
  const signature = String(req.headers["webhook-signature"] ?? "").slice(0, 12);
  return `webhook ${type} ${req.headers["webhook-id"]} key=${key} (signed ${signature}…, at ${req.headers["webhook-timestamp"]})`;
}

function echo(req, res, log) {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= MAX_ECHO_BYTES) chunks.push(chunk);
  });
  req.on("end", () => {
    const url = new URL(req.url ?? "/", "http://demo-origin");
    const text = Buffer.concat(chunks).toString("utf8");
    if (req.method === "POST" && req.headers["webhook-id"]) {
      res.writeHead(204);
      res.end();
      log?.(deliveryLine(req, text));
      return;
    }
    const answer = {
      method: req.method,
      path: url.pathname,
      query: queryObject(url.searchParams),
      headers: req.headers,
      body: size === 0 ? null : size > MAX_ECHO_BYTES ? `(${size} bytes, not echoed)` : text,
    };
    const json = `${JSON.stringify(answer, null, 2)}\n`;
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) });
    res.end(json);
    log?.(`${req.method} ${url.pathname} key=${req.headers["x-keygate-key-id"] ?? "-"} owner=${req.headers["x-keygate-owner-id"] ?? "-"}`);
  });
}

/**
 * Listens on host:port. Resolves with the server, or with null when the port is taken
 * (the caller says so and carries on).
 */
export function startDemoOrigin({ port = DEMO_ORIGIN_PORT, host = "127.0.0.1", log } = {}) {
  const server = http.createServer((req, res) => echo(req, res, log));
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once("error", (err) => (err.code === "EADDRINUSE" ? resolve(null) : reject(err)));
    server.listen(port, host, () => resolve(server));
  });
}

/** Stops listening and drops idle keep-alive connections so the process can exit at once. */
export function stopDemoOrigin(server) {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const port = Number(process.argv[2] ?? DEMO_ORIGIN_PORT);
  const server = await startDemoOrigin({ port, log: (line) => console.log(`demo origin: ${line}`) });
  if (!server) {
    console.error(`demo origin: port ${port} is already in use`);
    process.exit(1);
  }
  console.log(`demo origin: echoing requests on http://127.0.0.1:${port}`);
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stopDemoOrigin(server).then(() => process.exit(0)));
}
