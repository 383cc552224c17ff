/**
 * Text that came from outside (names, metadata, paths, user agents) is written so that nothing
 * in it acts on the terminal (DESIGN.md, "Operator CLI"): no control character (C0, DEL, C1:
 * U+009B is CSI, U+009D OSC), no format character (bidi embeddings, overrides and isolates
 * U+202A-U+202E, U+2066-U+2069, marks U+200E, U+200F, U+061C; zero-width U+200B-U+200D,
 * U+2060, U+FEFF; soft hyphen; tags), no line or paragraph separator, no lone surrogate.
 * Unicode categories Cc, Cf and Cs, so the set follows the Unicode version Node ships.
 */
const ACTING = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;

/** For tables and views: each such character is shown as `?`, so it is seen and acts on nothing. */
export const printable = (text: string): string => text.replace(ACTING, "?");

const escape = (ch: string) =>
  [...Array(ch.length).keys()].map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`).join("");

/**
 * For --json: the value as JSON, indented by two spaces, with each such character written as a
 * `\uXXXX` escape (a pair of them beyond the BMP). JSON.stringify already escapes C0 and lone
 * surrogates inside strings; outside them it writes only ASCII and the indenting newlines, which
 * are kept. So the text stays valid JSON and parses back to exactly the same value.
 */
export const jsonText = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(ACTING, (ch) => (ch === "\n" ? ch : escape(ch)));
