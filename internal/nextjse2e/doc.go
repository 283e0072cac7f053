// Package nextjse2e runs a real Next.js app (testdata/nextjs-app, `next
// start` of the version .ci/node pins) behind caddy-bff built from this
// tree, with the Next.js bridge of integrations/nextjs, and measures what a
// user sees: how fast a revalidation reaches every variant of a page, that
// HTML and RSC are never mixed up, Draft Mode, ISR ages, and one tag clock
// across two Next.js and two Caddy instances sharing Redis. Every Caddy here
// is the built binary with its own admin port, so the package runs beside
// the caddytest-based ones.
package nextjse2e
