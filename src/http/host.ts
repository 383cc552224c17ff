/**
 * The `Host` header (RFC 9110, 7.2): one host name, IPv4 address or bracketed IPv6 address,
 * with an optional port, and nothing else. The runtime builds the request's URL from it, so a
 * value holding `/`, `?`, `#`, `@` or `\` (`evil.example/admin/keys?`) would move the path
 * keygate routes on, and two `Host` headers (joined as `a.example, b.example`) give a URL that
 * does not parse. Such a request is refused before anything is routed.
 */
const HOST = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** Whether `value` is one host[:port]; a request without `Host` (HTTP/1.0, the tests' fetch) has nothing to check. */
export const validHost = (value: string | null): boolean => value === null || (value.length <= 261 && HOST.test(value));
