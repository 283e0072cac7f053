package caddybff

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/handlers"
)

func init() {
	registerCaddyfile()
}

// registerCaddyfile registers every Caddyfile directive, global option and
// directive order of the project.
func registerCaddyfile() {
	httpcaddyfile.RegisterGlobalOption("tag_cache", cache.ParseGlobalOption)

	// tag_cache runs after the request is authenticated and its headers are
	// set (basic_auth, forward_auth, request_header), and wraps encode,
	// handle blocks and every terminal handler (respond, reverse_proxy,
	// file_server), so it caches what they produce.
	httpcaddyfile.RegisterHandlerDirective("tag_cache", handlers.ParseTagCacheCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("tag_cache", httpcaddyfile.After, "request_header")

	// revalidate_webhook is terminal and must never be cached, so it runs
	// before tag_cache (and after rate_limit, which caddy-ratelimit orders
	// before basic_auth). Caddy only orders plugins relative to standard
	// directives; "after request_header" registered after tag_cache's
	// inserts it directly behind request_header, that is just before
	// tag_cache: request_header, revalidate_webhook, tag_cache. Keep this
	// line below tag_cache's.
	httpcaddyfile.RegisterHandlerDirective("revalidate_webhook", handlers.ParseRevalidateWebhookCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("revalidate_webhook", httpcaddyfile.After, "request_header")
}
