import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { pythonWith } from "../support/toolchains.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorker, removeBuild, startLocalGateway, type LocalGateway } from "../../scripts/local-gateway.ts";
import { freePort } from "../support/net.ts";
import { portOf, startOrigin } from "../support/origin.ts";

/**
 * keygate in workerd, met by clients nobody on the project wrote: origins verifying the
 * assertion with jose (the README's snippet) and with Python's PyJWT across a rotation of the
 * signing key done as the README says, and raw HTTP requests a fetch() could never send.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "keygate-outside-"));
let scriptPath: string;
let origin: http.Server;
let gateway: LocalGateway | null = null;
let port: number;

beforeAll(async () => {
  [scriptPath, origin] = await Promise.all([buildWorker(), startOrigin()]);
  port = await freePort();
}, 120_000);

afterAll(async () => {
  await gateway?.dispose();
  origin.closeAllConnections();
  await new Promise((resolve) => origin.close(resolve));
  await removeBuild(scriptPath);
  rmSync(tmp, { recursive: true, force: true });
});

/** (Re)deploys keygate with these secrets at the same address, as `wrangler secret put` redeploys it. */
async function deploy(secrets: Record<string, string>): Promise<string> {
  await gateway?.dispose();
  gateway = await startLocalGateway({
    scriptPath,
    port,
    direct: true,
    vars: { UPSTREAM_URL: `http://127.0.0.1:${portOf(origin)}`, ADMIN_TOKEN: "outside-admin-token", ...secrets },
  });
  return gateway.url;
}

/** The README's deploy helper: `node scripts/new-secret.mjs ARGS`. */
const newSecret = (...args: string[]) => execFileSync(process.execPath, ["scripts/new-secret.mjs", ...args], { cwd: ROOT, encoding: "utf8" });

/** A consumer call through keygate; returns the assertion the origin received. */
async function assertion(base: string): Promise<string> {
  const created = await fetch(`${base}/admin/keys`, {
    method: "POST",
    headers: { Authorization: "Bearer outside-admin-token", "Content-Type": "application/json" },
    body: JSON.stringify({ name: "rotation", ownerId: "acct_rotation" }),
  });
  const { key } = (await created.json()) as { key: string };
  const res = await fetch(`${base}/hello`, { headers: { Authorization: `Bearer ${key}` } });
  const echo = (await res.json()) as { headers: Record<string, string> };
  return echo.headers["x-keygate-assertion"];
}

/**
 * The README's origin code, with its waiting compressed: jose refetches the JWKS on an
 * unknown `kid` only after a cooldown, which the README's five-minute wait covers.
 */
function readmeOrigin(gatewayUrl: string) {
  const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", gatewayUrl), { cooldownDuration: 0 });
  return async (token: string) => {
    const { payload } = await jwtVerify(token, jwks, { issuer: gatewayUrl, audience: "default", algorithms: ["ES256"] });
    return { ownerId: payload.sub, keyId: payload.kid };
  };
}

const PYJWT = `
import json, sys, jwt
url, issuer, tokens = sys.argv[1], sys.argv[2], json.load(sys.stdin)
client = jwt.PyJWKClient(url, cache_jwk_set=False)
out = []
for token in tokens:
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="default", issuer=issuer)
        out.append(claims["sub"])
    except Exception as err:
        out.append("refused: " + type(err).__name__)
print(json.dumps(out))
`;

const hasPyJwt = pythonWith("jwt", "cryptography");

/**
 * What an origin written in Python with PyJWT makes of each token. Where this machine has no
 * PyJWT, the checks that use it are skipped, and said so (test/support/toolchains.ts).
 */
async function pyjwt(gatewayUrl: string, tokens: string[]): Promise<string[]> {
  const run = promisify(execFile)("/usr/bin/python3", ["-c", PYJWT, `${gatewayUrl}/.well-known/jwks.json`, gatewayUrl]);
  run.child.stdin!.end(JSON.stringify(tokens));
  return JSON.parse((await run).stdout) as string[];
}

describe("rotating the signing key as the README says", () => {
  it("origins verifying with jose and with PyJWT accept every assertion throughout", { timeout: 120_000 }, async () => {
    writeFileSync(path.join(tmp, "current.jwk"), newSecret("assertion-key"));
    writeFileSync(path.join(tmp, "next.jwk"), newSecret("assertion-key"));
    const read = (file: string) => execFileSync("cat", [path.join(tmp, file)], { encoding: "utf8" });

    const url = await deploy({ ASSERTION_PRIVATE_KEY: read("current.jwk") });
    const verify = readmeOrigin(url);
    const signedBefore = await assertion(url);
    expect(await verify(signedBefore)).toMatchObject({ ownerId: "acct_rotation" });

    // 1. Publish the next key before it signs.
    await deploy({ ASSERTION_PRIVATE_KEY: read("current.jwk"), ASSERTION_PUBLIC_KEYS: newSecret("public-keys", path.join(tmp, "next.jwk")) });
    const signedDuring = await assertion(url);
    // 2. Keep publishing what the JWKS holds now, and sign with the next key.
    const published = await (await fetch(`${url}/.well-known/jwks.json`)).text();
    await deploy({ ASSERTION_PRIVATE_KEY: read("next.jwk"), ASSERTION_PUBLIC_KEYS: published });
    const signedAfter = await assertion(url);
    const tokens = [signedBefore, signedDuring, signedAfter];
    for (const token of tokens) expect(await verify(token)).toMatchObject({ ownerId: "acct_rotation" });
    if (hasPyJwt) expect(await pyjwt(url, tokens)).toEqual(["acct_rotation", "acct_rotation", "acct_rotation"]);

    // 3. Stop publishing the previous key: an origin that fetches the JWKS afresh refuses what it
    //    signed (assertions live 60 s, so none still in use), and accepts what the next key signs.
    await deploy({ ASSERTION_PRIVATE_KEY: read("next.jwk") });
    const fresh = readmeOrigin(url);
    await expect(fresh(signedBefore)).rejects.toThrow(/no applicable key/i);
    expect(await fresh(await assertion(url))).toMatchObject({ ownerId: "acct_rotation" });
    expect(await verify(await assertion(url))).toMatchObject({ ownerId: "acct_rotation" });
    if (hasPyJwt) expect(await pyjwt(url, [signedBefore, signedAfter])).toEqual(["refused: PyJWKClientError", "acct_rotation"]);
  });
});

/** Sends one request line exactly as written, and returns the raw answer. */
function raw(base: string, lines: string[]): Promise<string> {
  const { port: target } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target), "127.0.0.1", () => socket.write(`${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`));
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

describe("what a client receives on the wire", () => {
  it("no hop-by-hop header of the origin's, nor one its Connection header names", async () => {
    const url = await deploy({ ASSERTION_PRIVATE_KEY: newSecret("assertion-key") });
    const created = await fetch(`${url}/admin/keys`, {
      method: "POST",
      headers: { Authorization: "Bearer outside-admin-token", "Content-Type": "application/json" },
      body: JSON.stringify({ name: "wire", ownerId: "acct_wire" }),
    });
    const { key } = (await created.json()) as { key: string };
    const answer = await raw(url, ["GET /hop-by-hop HTTP/1.1", "Host: keygate.test", `Authorization: Bearer ${key}`]);
    const head = answer.split("\r\n\r\n")[0].toLowerCase();
    expect(head).toMatch(/^http\/1\.1 200 /);
    expect(head).toContain("x-kept: yes");
    for (const name of ["keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade", "x-hop-secret"]) {
      expect(head, name).not.toMatch(new RegExp(`^${name}:`, "m"));
    }
  });
});

describe("request targets no fetch() can send", () => {
  it("GET * is a problem+json with a request id: MISSING_KEY without a key, NO_ROUTE with one", async () => {
    const url = await deploy({ ASSERTION_PRIVATE_KEY: newSecret("assertion-key") });
    const bare = await raw(url, ["GET * HTTP/1.1", "Host: keygate.test"]);
    expect(bare).toMatch(/^HTTP\/1\.1 401 /);
    expect(bare).toMatch(/content-type: application\/problem\+json/i);
    expect(bare).toMatch(/x-request-id: req_[0-9a-f]{32}/i);
    expect(bare).toContain('"code":"MISSING_KEY"');

    const created = await fetch(`${url}/admin/keys`, {
      method: "POST",
      headers: { Authorization: "Bearer outside-admin-token", "Content-Type": "application/json" },
      body: JSON.stringify({ name: "raw", ownerId: "acct_raw", credits: { remaining: 5 } }),
    });
    const { id, key } = (await created.json()) as { id: string; key: string };
    const withKey = await raw(url, ["GET * HTTP/1.1", "Host: keygate.test", `Authorization: Bearer ${key}`]);
    expect(withKey).toMatch(/^HTTP\/1\.1 404 /);
    expect(withKey).toContain('"code":"NO_ROUTE"');

    // CONNECT never reaches keygate's fetch handler: the runtime refuses it, nothing is tunnelled or charged.
    const connect = await raw(url, ["CONNECT 127.0.0.1:22 HTTP/1.1", "Host: 127.0.0.1:22", `Authorization: Bearer ${key}`]);
    expect(connect).not.toMatch(/^HTTP\/1\.1 2/);
    const record = (await (await fetch(`${url}/admin/keys/${id}`, { headers: { Authorization: "Bearer outside-admin-token" } })).json()) as {
      credits: { remaining: number };
    };
    expect(record.credits.remaining).toBe(5);
  });
});

/** The head and the body of a raw answer (ASCII), its chunks joined when it came chunked. */
function split(answer: string): { head: string; body: string } {
  const at = answer.indexOf("\r\n\r\n");
  const head = answer.slice(0, at);
  let rest = answer.slice(at + 4);
  if (!/^transfer-encoding: chunked/im.test(head)) return { head, body: rest };
  let body = "";
  for (;;) {
    const end = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, end), 16);
    if (!size) return { head, body };
    body += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
}

describe("Host headers no fetch() can send", () => {
  /** Internals an answer must never hold: a stack frame or a file path. */
  const expectNoInternals = (answer: string) => {
    expect(answer).not.toMatch(/\bat [\w.<>]+ \(|file:\/\/|\.js:\d+|node_modules|\/tmp\//);
  };

  it("two Host headers, or one that is not host[:port], are 400 VALIDATION_FAILED problem+json, never routed", async () => {
    const url = await deploy({ ASSERTION_PRIVATE_KEY: newSecret("assertion-key") });
    const created = await fetch(`${url}/admin/keys`, {
      method: "POST",
      headers: { Authorization: "Bearer outside-admin-token", "Content-Type": "application/json" },
      body: JSON.stringify({ name: "host", ownerId: "acct_host", credits: { remaining: 5 } }),
    });
    const { id, key } = (await created.json()) as { id: string; key: string };
    const requests = [
      ["GET /hello HTTP/1.1", "Host: a.example", "Host: b.example", `Authorization: Bearer ${key}`],
      ["GET /keys HTTP/1.1", "Host: evil.example/admin/keys?", "Authorization: Bearer outside-admin-token"],
      ["GET /x HTTP/1.1", "Host: evil.example/admin/keys#", "Authorization: Bearer outside-admin-token"],
      ["GET /hello HTTP/1.1", "Host: evil example", `Authorization: Bearer ${key}`],
      ["GET /hello HTTP/1.1", "Host: evil.example@127.0.0.1", `Authorization: Bearer ${key}`],
    ];
    for (const lines of requests) {
      const answer = await raw(url, lines);
      const { head, body } = split(answer);
      expect(head, lines[1]).toMatch(/^HTTP\/1\.1 400 /);
      expect(head).toMatch(/content-type: application\/problem\+json/i);
      expect(head).toMatch(/x-request-id: req_[0-9a-f]{32}/i);
      expect(JSON.parse(body)).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
      expectNoInternals(answer);
    }
    const record = (await (await fetch(`${url}/admin/keys/${id}`, { headers: { Authorization: "Bearer outside-admin-token" } })).json()) as {
      credits: { remaining: number };
    };
    expect(record.credits.remaining).toBe(5);
  });

  it("with PUBLIC_URL, the client's Host is neither the assertion's iss nor the origin's X-Forwarded-Host", async () => {
    const url = await deploy({ ASSERTION_PRIVATE_KEY: newSecret("assertion-key"), PUBLIC_URL: "https://api.example.com" });
    const created = await fetch(`${url}/admin/keys`, {
      method: "POST",
      headers: { Authorization: "Bearer outside-admin-token", "Content-Type": "application/json" },
      body: JSON.stringify({ name: "public", ownerId: "acct_public" }),
    });
    const { key } = (await created.json()) as { key: string };
    const { head, body } = split(await raw(url, ["GET /hello HTTP/1.1", "Host: evil.example", `Authorization: Bearer ${key}`]));
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    const echo = JSON.parse(body) as { headers: Record<string, string> };
    expect(echo.headers["x-forwarded-host"]).toBe("api.example.com");
    expect(echo.headers["x-forwarded-proto"]).toBe("https");
    const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", url));
    const { payload } = await jwtVerify(echo.headers["x-keygate-assertion"], jwks, { issuer: "https://api.example.com", audience: "default" });
    expect(payload.sub).toBe("acct_public");
  });
});
