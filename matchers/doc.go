// Package matchers holds caddy-bff's HTTP request matchers: Next.js-style
// path patterns (http.matchers.path_pattern), cookies
// (http.matchers.cookie) and a verified session
// (http.matchers.authenticated).
package matchers
