package integration

// The integration tests drive Caddy both in process and as the built binary;
// these imports give the in-process Caddy the same modules as ./cmd/caddy.
import (
	_ "github.com/caddy-bff/caddy-bff"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-ratelimit"
)
