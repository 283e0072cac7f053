// Package integration holds every Caddy-level integration test of
// caddy-bff: real Caddy servers (in process through the admin API, or the
// built binary), real clients, a real browser. Only one in-process Caddy
// exists per test binary, so tests here never run in parallel.
package integration

import (
	_ "github.com/caddy-bff/caddy-bff"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-ratelimit"
)
