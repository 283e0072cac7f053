// Package integration holds every Caddy-level test of caddy-bff: each one
// loads a real config into the in-process Caddy (or runs the built binary)
// and talks to it over HTTP. Only one in-process Caddy exists per test
// binary, so these tests never run in parallel.
package integration
