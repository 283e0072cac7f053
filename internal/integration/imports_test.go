package integration

// The modules every test here loads: Caddy's standard ones, caddy-ratelimit
// and this project.
import (
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-ratelimit"

	_ "github.com/caddy-bff/caddy-bff"
)
