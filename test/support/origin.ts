import { createHash, generateKeyPairSync } from "node:crypto";
import { Webhook } from "standardwebhooks";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { responseChecker, type OpenApiDocument, type ReceivedResponse } from "./openapi-check.ts";

/**
 * A real origin for tests: echoes what it received as JSON (headers, path, body size and
 * SHA-256). `/slow` never answers, `/reset` drops the connection, `/stream` sends a body
 * in chunks, `/status/<code>` answers with that status. Under `/ae-sql` it stands in for the Analytics Engine SQL API, the one part
 * that cannot run locally: it records each query and answers with rows a test set first.
 * Under `/__openapi` it checks admin responses against the OpenAPI document (openapi-check.ts),
 * for the workers tests, which cannot run ajv inside workerd. Under `/hooks/<name>` it is a
 * webhook receiver that verifies every delivery with the `standardwebhooks` package (receiver
 * below); under `/github` it publishes secret-scanning keys as GitHub does (githubKeys below).
 */
export interface EchoBody {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
}

/** `X-Corpus-Marker` values of every request that reached this origin (hardening tests). */
const markersSeen: string[] = [];

const sqlApi = { rows: [] as unknown[], log: [] as { sql: string; authorization: string }[] };

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => resolve(text));
  });
}

async function sqlApiStandIn(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
  const body = await readBody(req);
  const reply = (value: unknown) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(value));
  };
  if (path === "/ae-sql/fixture") {
    sqlApi.rows = JSON.parse(body).rows;
    sqlApi.log = [];
    return reply({ ok: true });
  }
  if (path === "/ae-sql/log") return reply(sqlApi.log);
  sqlApi.log.push({ sql: body, authorization: req.headers.authorization ?? "" });
  reply({ meta: [], data: sqlApi.rows, rows: sqlApi.rows.length });
}

/**
 * How an origin that reads paths loosely would see a path: Tomcat and Jetty drop `;` path
 * parameters, Go, Python, Java and nginx decode percent-encodings (then resolve `.` and `..`),
 * some servers and frameworks decode a second time, IIS and Windows trim the dots and spaces
 * that end a segment, Windows servers take `\\` for `/`, and Express (by default) and IIS
 * ignore case. Under `/decoding/` the origin answers with the path it would serve in
 * `X-Served-Path`.
 */
export function looselyRead(raw: string): string {
  const dropParams = (path: string) =>
    path
      .split("/")
      .map((segment) => segment.split(";")[0])
      .join("/");
  const decode = (path: string) => {
    try {
      return decodeURIComponent(path);
    } catch {
      return unescape(path);
    }
  };
  let path = dropParams(raw.replaceAll("\\", "/"));
  path = dropParams(decode(path).replaceAll("\\", "/"));
  path = dropParams(decode(path).replaceAll("\\", "/"));
  const out: string[] = [];
  for (const whole of path.split("/")) {
    const segment = whole === "." || whole === ".." ? whole : whole.replace(/[. ]+$/, "");
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return `/${out.join("/")}`.toLowerCase();
}

/** Checkers by the SHA-256 of the document they were built from. */
const checkers = new Map<string, ReturnType<typeof responseChecker>>();

async function openApiCheck(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
  const body = await readBody(req);
  const reply = (status: number, value: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(value));
  };
  try {
    if (path === "/__openapi/document") {
      const id = createHash("sha256").update(body).digest("hex");
      if (!checkers.has(id)) checkers.set(id, responseChecker(JSON.parse(body) as OpenApiDocument));
      return reply(200, { id });
    }
    const { id, response } = JSON.parse(body) as { id: string; response: ReceivedResponse };
    const check = checkers.get(id);
    if (!check) return reply(404, { errors: [`no document ${id} was registered`] });
    reply(200, { errors: check(response) });
  } catch (err) {
    reply(500, { errors: [`the checker failed: ${(err as Error).stack ?? err}`] });
  }
}

/** One delivery as a receiver saw it, and whether each secret it was told of verifies it. */
export interface ReceivedDelivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** for each secret configured, in order: whether `standardwebhooks` verified the delivery with it */
  verified: boolean[];
  /** the error `standardwebhooks` gave for the first secret, if any */
  error: string | null;
  /** when it arrived (ms) and what the receiver answered */
  at: number;
  answered: number | "hung";
}

/**
 * How a receiver answers: "ok" (204), "status:<code>", "fail-first:<n>" (500 to the first n
 * deliveries after it was configured, then 204), "hang" (never), "slow:<ms>" (204 after that long).
 */
interface Receiver {
  secrets: string[];
  mode: string;
  received: ReceivedDelivery[];
  /** deliveries since the receiver was last configured (what "fail-first" counts) */
  sinceConfig: number;
}

const receivers = new Map<string, Receiver>();

async function webhookReceiver(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
  const [, , name, action] = path.split("?")[0].split("/");
  const body = await readBody(req);
  const reply = (status: number, value?: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(value === undefined ? undefined : JSON.stringify(value));
  };
  let receiver = receivers.get(name);
  if (action === "config") {
    const config = JSON.parse(body) as { secrets: string[]; mode?: string };
    receiver = { secrets: config.secrets, mode: config.mode ?? "ok", received: receiver?.received ?? [], sinceConfig: 0 };
    receivers.set(name, receiver);
    return reply(200, { ok: true });
  }
  if (action === "received") return reply(200, receiver?.received ?? []);
  if (!receiver) return reply(404, { error: "no such receiver" });
  const headers = { "webhook-id": String(req.headers["webhook-id"] ?? ""), "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""), "webhook-signature": String(req.headers["webhook-signature"] ?? "") };
  let error: string | null = null;
  const verified = receiver.secrets.map((secret, i) => {
    try {
      new Webhook(secret).verify(body, headers);
      return true;
    } catch (err) {
      if (i === 0) error = String((err as Error).message);
      return false;
    }
  });
  const delivery: ReceivedDelivery = { id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], signature: headers["webhook-signature"], body, verified, error, at: Date.now(), answered: 204 };
  receiver.received.push(delivery);
  receiver.sinceConfig += 1;
  const { mode } = receiver;
  if (mode === "hang") {
    delivery.answered = "hung";
    return;
  }
  const status = /^status:(\d{3})$/.exec(mode);
  if (status) {
    delivery.answered = Number(status[1]);
    return reply(Number(status[1]), { status: Number(status[1]) });
  }
  const failFirst = /^fail-first:(\d+)$/.exec(mode);
  if (failFirst && receiver.sinceConfig <= Number(failFirst[1])) {
    delivery.answered = 500;
    return reply(500, { error: "failing on purpose" });
  }
  const slow = /^slow:(\d+)$/.exec(mode);
  if (slow) await new Promise((resolve) => setTimeout(resolve, Number(slow[1])));
  reply(204);
}

/**
 * Secret-scanning keys as GitHub publishes them (`{ public_keys: [{ key_identifier, key, is_current }] }`):
 * "test-key-current" signs the tests' reports; its private key is at `/github/private-key`
 * (PKCS#8, base64), for the tests inside workerd to sign with.
 */
const githubKeys = (() => {
  const current = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = (key: typeof current.publicKey) => key.export({ type: "spki", format: "pem" }).toString();
  return {
    published: {
      public_keys: [
        { key_identifier: "test-key-old", key: pem(other.publicKey), is_current: false },
        { key_identifier: "test-key-current", key: pem(current.publicKey), is_current: true },
      ],
    },
    privateKey: current.privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
  };
})();

export function startOrigin(port = 0, host = "127.0.0.1"): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    if (path.startsWith("/hooks/")) return void webhookReceiver(req, res, path);
    if (path === "/github/keys" || path === "/github/private-key") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify(path === "/github/keys" ? githubKeys.published : { pkcs8: githubKeys.privateKey }));
    }
    if (path.startsWith("/ae-sql")) return void sqlApiStandIn(req, res, path);
    if (path.startsWith("/__openapi/")) return void openApiCheck(req, res, path);
    if (path === "/__markers") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify(markersSeen));
    }
    const marker = req.headers["x-corpus-marker"];
    if (typeof marker === "string") markersSeen.push(marker);
    if (path.includes("/slow")) return; // hangs: the gateway's route timeout must answer
    if (path.includes("/cookies")) {
      res.writeHead(200, [
        ["Set-Cookie", "session=abc; Path=/; HttpOnly"],
        ["Set-Cookie", "theme=dark; Path=/"],
        ["Content-Type", "text/plain"],
      ]);
      return void res.end("cookies");
    }
    if (path.includes("/hop-by-hop")) {
      // every hop-by-hop header, and one the Connection header names: none may reach the client
      res.writeHead(200, {
        Connection: "keep-alive, X-Hop-Secret",
        "Keep-Alive": "timeout=5",
        "Proxy-Authenticate": "Basic",
        "Proxy-Authorization": "Basic abc",
        "Proxy-Connection": "keep-alive",
        TE: "trailers",
        Trailer: "X-Checksum",
        Upgrade: "h2c",
        "X-Hop-Secret": "internal",
        "X-Kept": "yes",
      });
      return void res.end("hop");
    }
    if (path.includes("/own-headers")) {
      // an origin with request ids and rate-limit fields of its own, the id echoed from the request
      res.writeHead(200, {
        "Content-Type": "text/plain",
        "X-Request-Id": String(req.headers["x-request-id"] ?? "origin-id"),
        "RateLimit-Policy": '"origin";q=5;w=1',
        RateLimit: '"origin";r=4;t=1',
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": "1",
        "X-Kept": "yes",
      });
      return void res.end("own");
    }
    if (path.includes("/reset")) {
      req.socket.destroy();
      return;
    }
    const forced = /\/status\/([1-5]\d\d)(?:\/|$)/.exec(path);
    if (forced) {
      const text = JSON.stringify({ status: Number(forced[1]) });
      res.writeHead(Number(forced[1]), { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "X-Origin": "status" });
      return void req.resume().on("end", () => res.end(text));
    }
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on("end", () => {
      const body: EchoBody = {
        method: req.method ?? "",
        url: path,
        headers: req.headers,
        bodyBytes: bytes,
        bodySha256: hash.digest("hex"),
      };
      const text = JSON.stringify(body);
      const rawPath = path.split("?")[0];
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(text),
        "X-Origin": "echo",
        ...(rawPath.startsWith("/decoding/") ? { "X-Served-Path": encodeURI(looselyRead(rawPath.slice("/decoding".length))) } : {}),
        Connection: "keep-alive",
      });
      res.end(text);
    });
  });
  // Longer than any pause in a test: workerd reuses a pooled connection without noticing that the
  // server closed it while idle, and a POST on it (the OpenAPI checker's) fails as "Network
  // connection lost" instead of being retried. Teardown closes the connections itself.
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

export const portOf = (server: http.Server) => (server.address() as AddressInfo).port;
