// Package integration holds the Caddy-level integration tests: each test
// loads a real config into the one in-process Caddy of the test binary (or
// runs the built binary) and talks to it over HTTP. Tests here never run in
// parallel, since they share that Caddy.
package integration

import (
	_ "github.com/caddy-bff/caddy-bff"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-ratelimit"
)
