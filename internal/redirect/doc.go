// Package redirect is the one open-redirect check of caddy-bff: every
// handler that sends a browser to a URL taken from a request (the
// session_callback and session_logout handlers, auth_proxy's `on_fail
// redirect`) asks a Policy where it may go.
//
// The invariant a Policy keeps: whatever Resolve returns, a browser resolving
// it against the URL of the request lands on the request's own origin or on
// an origin of the allowlist. Targets are accepted in two forms only:
//
//   - a path starting with a single "/" (a same-origin path). Anything a
//     browser (or an application decoding the path again) could read as
//     another host is refused: "//host", "/\host", backslashes anywhere,
//     control characters and spaces, characters outside printable ASCII,
//     "." and ".." segments, and the percent-encoded forms of all these;
//   - an absolute http or https URL whose scheme, host and port exactly match
//     an allowlist entry or the request's own origin, with no userinfo and
//     no percent-encoding in its authority.
//
// Every other target is refused and Resolve answers the policy's default.
package redirect
