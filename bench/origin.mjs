/**
 * The origin keygate and the baseline proxy to: a plain node:http server on loopback that
 * answers every request with the same small JSON body. It runs in its own process so it
 * does not share an event loop with the load generator.
 */
import http from "node:http";

const body = JSON.stringify({ ok: true, service: "bench-origin", items: [1, 2, 3] });
let served = 0;

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    served++;
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;

server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: server.address().port });
});

process.on("message", (message) => {
  if (message === "served") process.send?.({ served });
});
process.on("disconnect", () => server.close(() => process.exit(0)));
