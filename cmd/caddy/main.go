// Command caddy is Caddy with its standard modules, caddy-ratelimit and
// caddy-bff compiled in. It is what the README's `go run ./cmd/caddy` starts;
// production builds use `xcaddy build --with github.com/caddy-bff/caddy-bff`.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddy-bff/caddy-bff"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-ratelimit"
)

func main() {
	caddycmd.Main()
}
