package app

import (
	"sort"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// Module IDs the route check recognises. It goes by ID so the cache
// package needs nothing from the handlers and matchers packages.
const (
	cacheHandlerID       = "http.handlers.tag_cache"
	authProxyHandlerID   = "http.handlers.auth_proxy"
	authenticationID     = "http.handlers.authentication" // basic_auth
	authenticatedMatchID = "http.matchers.authenticated"
)

// GateAfterCache is one place where a gate runs after a tag_cache handler
// on the way of a request.
type GateAfterCache struct {
	Server string
	Gate   string
}

// checkGateOrder warns, once per server at config load, about each gate
// that a request reaches only after a tag_cache handler: the cache will not
// store what the gate lets through (it would serve it to requests that
// never pass the gate), so such routes are never cached. The fix is to
// order the gate first.
func (a *App) checkGateOrder() {
	appIface, err := a.ctx.AppIfConfigured("http")
	if err != nil {
		return
	}
	httpApp, ok := appIface.(*caddyhttp.App)
	if !ok {
		return
	}
	for _, found := range GatesAfterCache(httpApp) {
		a.logger.Warn("tag_cache runs before a gate: responses produced behind the gate are never stored, so the gated routes are not cached",
			zap.String("server", found.Server),
			zap.String("cache", "tag_cache"),
			zap.String("gate", found.Gate),
			zap.String("fix", "order "+found.Gate+" before tag_cache: put tag_cache in the gated route after "+found.Gate+" (auth_proxy is ordered before tag_cache within one route)"))
	}
}

// GatesAfterCache lists, per server, the gates (auth_proxy and Caddy's
// authentication handler, which basic_auth configures, and authenticated
// matchers) that run after a tag_cache handler. forward_auth is a
// reverse_proxy and cannot be told apart; docs/tag_cache.md says to order it
// first. Within a
// route list the order of handlers flows forward and into subroutes, but
// not back out of them: `handle` blocks are alternatives, so a cache inside
// one says nothing of its siblings.
func GatesAfterCache(httpApp *caddyhttp.App) []GateAfterCache {
	var found []GateAfterCache
	names := make([]string, 0, len(httpApp.Servers))
	for name := range httpApp.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		seen := map[string]bool{}
		walkRoutes(httpApp.Servers[name].Routes, false, func(gate string) {
			if !seen[gate] {
				seen[gate] = true
				found = append(found, GateAfterCache{Server: name, Gate: gate})
			}
		})
	}
	return found
}

func walkRoutes(routes caddyhttp.RouteList, cacheBefore bool, report func(gate string)) {
	for _, route := range routes {
		if cacheBefore && matchersGate(route.MatcherSets) {
			report("authenticated")
		}
		for _, h := range route.Handlers {
			switch moduleID(h) {
			case cacheHandlerID:
				cacheBefore = true
			case authProxyHandlerID:
				if cacheBefore {
					report("auth_proxy")
				}
			case authenticationID:
				if cacheBefore {
					report("basic_auth")
				}
			}
			if sub, ok := h.(*caddyhttp.Subroute); ok {
				walkRoutes(sub.Routes, cacheBefore, report)
			}
		}
	}
}

// matchersGate reports whether any matcher set, negated ones included,
// verifies a session.
func matchersGate(sets caddyhttp.MatcherSets) bool {
	for _, set := range sets {
		for _, m := range set {
			if moduleID(m) == authenticatedMatchID {
				return true
			}
			if not, ok := m.(*caddyhttp.MatchNot); ok && matchersGate(not.MatcherSets) {
				return true
			}
		}
	}
	return false
}

func moduleID(v any) string {
	if m, ok := v.(caddy.Module); ok {
		return string(m.CaddyModule().ID)
	}
	return ""
}
