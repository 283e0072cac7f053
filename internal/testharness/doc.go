// Package testharness holds the test helpers every package of caddy-bff
// reuses: a real Caddy (in process, driven through its admin API, or the built
// binary on free ports), a real redis-server process, the runner for
// `.caddytest` adapt tests, and the shared assertions of route-handler
// semantics. Nothing here is a mock: helpers start the real thing or fail the
// test loudly when it cannot be started.
package testharness
