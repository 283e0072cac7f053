// next-matcher.js: Next.js's own middleware (proxy.ts) matcher, as an
// oracle for caddy-bff's path_pattern matcher.
//
// Reads {"patterns": [...], "paths": [<hex of the raw request-target path
// bytes>...]} on stdin and prints, for each pattern, the regular expression
// `next build` writes into the middleware manifest and whether Next's
// runtime runs the middleware for each path.
//
// Every step is Next's own code from the installed `next` package:
//   - getMiddlewareMatchers (next/dist/build/analysis/get-page-static-info):
//     the build-time compilation of `config.matcher` (data-route prefix,
//     transport suffixes, path-to-regexp);
//   - getMiddlewareRouteMatcher (next/dist/shared/lib/router/utils/
//     middleware-route-matcher): the runtime test, `new RegExp(regexp)`;
//   - the request-path handling of the router server (next/dist/server/lib/
//     router-utils/resolve-routes): normalizeRepeatedSlashes, parseUrl, then
//     a match on the pathname or on its decodeURIComponent form.
'use strict';

const { getMiddlewareMatchers } = require('next/dist/build/analysis/get-page-static-info');
const { getMiddlewareRouteMatcher } = require('next/dist/shared/lib/router/utils/middleware-route-matcher');
const { SourceSchema } = require('next/dist/build/segment-config/middleware/middleware-config');
const { normalizeRepeatedSlashes } = require('next/dist/shared/lib/utils');
const { parseUrl } = require('next/dist/shared/lib/router/utils/parse-url');
const { tryToParsePath } = require('next/dist/lib/try-to-parse-path');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
// Node's HTTP server hands Next the request line as latin1 text.
const paths = input.paths.map((hex) => Buffer.from(hex, 'hex').toString('latin1'));

const nextConfig = {}; // no basePath, no i18n

// pathnames returns what resolve-routes passes to the matcher: the parsed
// pathname and its decoded form (when it decodes).
function pathnames(url) {
  const parsedUrl = parseUrl(normalizeRepeatedSlashes(url));
  let maybeDecodedPathname = parsedUrl.pathname || '/';
  try {
    maybeDecodedPathname = decodeURIComponent(maybeDecodedPathname);
  } catch {
    /* non-fatal we can't decode so can't match it */
  }
  return [parsedUrl.pathname, maybeDecodedPathname];
}

const out = { next: require('next/package.json').version, pathnames: [], patterns: {} };
for (const url of paths) {
  out.pathnames.push(pathnames(url));
}
for (const pattern of input.patterns) {
  const res = { valid: true, regexp: '', matches: [] };
  // get-page-static-info exits the process on an invalid source: check it
  // the same way first. tryToParsePath logs and returns no regexp for a
  // pattern path-to-regexp refuses (Next would then match everything).
  if (!SourceSchema.safeParse(pattern).success) {
    res.valid = false;
    res.error = 'refused by SourceSchema';
    out.patterns[pattern] = res;
    continue;
  }
  const origError = console.error;
  console.error = () => {};
  const parsed = tryToParsePath(pattern);
  let matchers;
  try {
    matchers = parsed.error ? null : getMiddlewareMatchers(pattern, nextConfig);
  } finally {
    console.error = origError;
  }
  if (!matchers || matchers.some((m) => typeof m.regexp !== 'string')) {
    res.valid = false;
    res.error = String(parsed.error || 'no regexp');
    out.patterns[pattern] = res;
    continue;
  }
  res.regexp = matchers[0].regexp;
  const match = getMiddlewareRouteMatcher(matchers);
  for (const [pathname, decoded] of out.pathnames) {
    // resolve-routes: match(parsedUrl.pathname) || match(maybeDecodedPathname)
    res.matches.push(Boolean(match(pathname, {}, {}) || match(decoded, {}, {})));
  }
  out.patterns[pattern] = res;
}
process.stdout.write(JSON.stringify(out));
