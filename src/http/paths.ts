/**
 * Canonical paths (DESIGN.md, "Routes"). keygate matches routes against the canonical path
 * and forwards exactly that path, so no origin that reads paths more loosely than keygate
 * (decoding `%70` to `p`, resolving `..;/`, ignoring case) can be reached around a route's
 * scopes:
 * - percent-encoded unreserved characters (RFC 3986 section 2.3) are decoded: `%70osts` is `posts`;
 *   every other percent-encoding is written in upper case;
 * - `.` and `..` segments are resolved, also when they were percent-encoded;
 * - runs of `/` collapse to one.
 * A path that still holds an encoded `/`, `\` or NUL, a `;` anywhere, raw or encoded (matrix
 * parameters, the `..;/` trick), a `\`, a `%` not followed by two hex digits, an encoded `%`
 * (`%25`: a server that decodes twice would read another path), or a segment that ends in `.`,
 * a space or another whitespace or control character (other than `.` and `..` themselves:
 * IIS and Windows trim `posts./` and `posts%20/` to `posts/`) has no canonical form: it
 * matches no route.
 */

const HEX = "0123456789ABCDEF";
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/**
 * Encoded bytes that would change the path's structure at an origin that decodes them: `/`,
 * `\`, NUL, `;` (a framework that decodes before splitting off path parameters would read
 * `%3B` as `;`), and `%` (a server that decodes twice would read `%252F` as `/`).
 */
const STRUCTURAL = new Set([0x2f, 0x5c, 0x00, 0x3b, 0x25]);
/** A segment's end that some servers trim: `.`, or an encoded space, whitespace or control character. */
const TRIMMED_END = /(?:\.|%[01][0-9A-F]|%20|%7F)$/;

/** The canonical form of a URL's path, or null when it has none. */
export function canonicalPath(pathname: string): string | null {
  if (pathname.includes(";") || pathname.includes("\\")) return null;
  if (!pathname.includes("%") && !pathname.includes("//") && !pathname.includes("/.") && !pathname.includes("./") && !pathname.endsWith(".")) {
    return pathname; // nothing to decode, resolve, collapse or refuse
  }
  const segments: string[] = [];
  const parts = pathname.split("/");
  let trailingSlash = false;
  for (let i = 1; i < parts.length; i++) {
    const segment = decodeUnreserved(parts[i]);
    if (segment === null) return null;
    const last = i === parts.length - 1;
    if (segment === "..") {
      segments.pop();
      trailingSlash = last;
    } else if (segment === ".") {
      trailingSlash = last;
    } else if (segment === "") {
      trailingSlash = last;
    } else if (TRIMMED_END.test(segment)) {
      return null;
    } else {
      segments.push(segment);
      trailingSlash = false;
    }
  }
  const joined = `/${segments.join("/")}`;
  return trailingSlash && segments.length > 0 ? `${joined}/` : joined;
}

/** Decodes `%XX` of unreserved characters, upper-cases the rest; null for a structural or broken encoding. */
function decodeUnreserved(segment: string): string | null {
  if (!segment.includes("%")) return segment;
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch !== "%") {
      out += ch;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    const byte = parseInt(hex, 16);
    if (STRUCTURAL.has(byte)) return null;
    const decoded = String.fromCharCode(byte);
    out += UNRESERVED.test(decoded) ? decoded : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    i += 2;
  }
  return out;
}

/**
 * A path with no canonical form, read leniently but segment by segment, only to tell whether it
 * points into keygate's own (the admin API, `/.well-known/`, `/healthz`): then keygate refuses it
 * as its own, and it is not handed to the gateway as a consumer's. Never used to serve anything.
 * Each segment is read with every `%XX` decoded and cut at `;` or NUL (matrix parameters, C
 * strings); a segment that is then `.` or `..` is resolved, as canonical paths resolve them; an
 * encoded `/` or `\` splits a segment, but the `.` and `..` it reveals are kept as they are, so
 * `/echo%2F..%2Fadmin` stays under `/echo` while `/admin/keys/key_X%00` and `/admin;x/keys` are
 * under `/admin`.
 */
export function loosePath(pathname: string): string {
  const cut = (part: string) => part.split(/[;\u0000]/)[0];
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    const decoded = cut(raw.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
    if (decoded === "..") segments.pop();
    else if (decoded !== ".") segments.push(...decoded.split(/[/\\]/).map(cut).filter((part) => part !== ""));
  }
  return `/${segments.join("/")}`;
}

/**
 * Whether `path` is `prefix` or lies below it, segment by segment: `/posts` covers `/posts`
 * and `/posts/1`, not `/postsx`. Both are canonical (and lower-cased alike when matching
 * without regard to case).
 */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* / */);
}

/** A request's URL, parsed once, and its canonical path (null: none, so no route). */
export interface Target {
  url: URL;
  path: string | null;
}

const targets = new WeakMap<Request, Target>();

/**
 * The request's target, shared by the router and the gateway. A target without a path (the
 * asterisk form `GET *`, which the runtime hands over as `http://host*`) has no canonical
 * path either.
 */
export function parseTarget(request: Request): Target {
  const raw = request.url;
  const url = new URL(raw);
  const hasPath = raw.indexOf("/", raw.indexOf("//") + 2) !== -1;
  return { url, path: hasPath ? canonicalPath(url.pathname) : null };
}

/** Keeps a target already parsed with its request, for the admin API's router. */
export function keepTarget(request: Request, target: Target): void {
  targets.set(request, target);
}

/** `parseTarget`, kept with the request for the admin API's router (which asks for it by request). */
export function targetOf(request: Request): Target {
  let target = targets.get(request);
  if (!target) {
    target = parseTarget(request);
    targets.set(request, target);
  }
  return target;
}
