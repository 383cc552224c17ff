import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real origin for tests: echoes what it received as JSON (headers, path, body size and
 * SHA-256). `/slow` never answers, `/reset` drops the connection, `/stream` sends a body
 * in chunks.
 */
export interface EchoBody {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
}

export function startOrigin(port = 0, host = "127.0.0.1"): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    if (path.includes("/slow")) return; // hangs: the gateway's route timeout must answer
    if (path.includes("/reset")) {
      req.socket.destroy();
      return;
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
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(text),
        "X-Origin": "echo",
        Connection: "keep-alive",
      });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 1000;
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

export const portOf = (server: http.Server) => (server.address() as AddressInfo).port;
