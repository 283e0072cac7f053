package caddybff

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	cacheapp "github.com/caddy-bff/caddy-bff/cache/app"
	"github.com/caddy-bff/caddy-bff/handlers/authproxy"
	"github.com/caddy-bff/caddy-bff/handlers/nextjsbridge"
	"github.com/caddy-bff/caddy-bff/handlers/session"
	"github.com/caddy-bff/caddy-bff/handlers/tagcache"
	"github.com/caddy-bff/caddy-bff/handlers/webhook"
)

func init() {
	registerCaddyfile()
}

// registerCaddyfile registers every Caddyfile directive, global option and
// directive order of the project.
func registerCaddyfile() {
	httpcaddyfile.RegisterGlobalOption("tag_cache", cacheapp.ParseGlobalOption)

	// tag_cache runs after the request is authenticated and its headers are
	// set (basic_auth, forward_auth, request_header), and wraps encode,
	// handle blocks and every terminal handler (respond, reverse_proxy,
	// file_server), so it caches what they produce.
	httpcaddyfile.RegisterHandlerDirective("tag_cache", tagcache.ParseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("tag_cache", httpcaddyfile.After, "request_header")

	// revalidate_webhook is terminal and must never be cached, so it runs
	// before tag_cache (and after rate_limit, which caddy-ratelimit orders
	// before basic_auth). Caddy only orders plugins relative to standard
	// directives; "after request_header" registered after tag_cache's
	// inserts it directly behind request_header, that is just before
	// tag_cache: request_header, revalidate_webhook, tag_cache. Keep this
	// line below tag_cache's.
	httpcaddyfile.RegisterHandlerDirective("revalidate_webhook", webhook.ParseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("revalidate_webhook", httpcaddyfile.After, "request_header")

	// nextjs_bridge is terminal too and never cached. Registered last, it
	// goes directly behind request_header: request_header, nextjs_bridge,
	// revalidate_webhook, tag_cache.
	httpcaddyfile.RegisterHandlerDirective("nextjs_bridge", nextjsbridge.ParseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("nextjs_bridge", httpcaddyfile.After, "request_header")

	httpcaddyfile.RegisterHandlerDirective("session_callback", session.ParseCallbackCaddyfile)
	httpcaddyfile.RegisterHandlerDirective("session_logout", session.ParseLogoutCaddyfile)
	// The session handlers answer their own path, like respond, but they are
	// ordered before handle (after the request-shaping directives and
	// forward_auth/basic_auth) so that a site's catch-all `handle { ... }`
	// or reverse_proxy never shadows the callback path: they are always
	// given a path matcher in practice, so running them early costs
	// nothing elsewhere. rate_limit, which caddy-ratelimit orders before
	// basic_auth, still runs first.
	httpcaddyfile.RegisterDirectiveOrder("session_callback", httpcaddyfile.Before, "handle")
	httpcaddyfile.RegisterDirectiveOrder("session_logout", httpcaddyfile.Before, "handle")

	httpcaddyfile.RegisterDirective("auth_proxy", authproxy.ParseCaddyfile)
	// auth_proxy plays the part of a Next.js proxy.ts (middleware.ts), which
	// runs after next.config's headers and redirects but before its rewrites
	// and every route: so it goes after header, redir and method, and before
	// rewrite, uri, try_files, the other auth handlers, tag_cache and every
	// handler that answers (reverse_proxy, respond, file_server). Its matcher
	// therefore sees the path the client asked for, as Next.js matchers do.
	httpcaddyfile.RegisterDirectiveOrder("auth_proxy", httpcaddyfile.Before, "rewrite")
}
