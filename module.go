// Package caddybff is the root of caddy-bff: the "backend for frontend" edge
// for Caddy v2. Importing it (or building with
// `xcaddy build --with github.com/caddy-bff/caddy-bff`) registers every module
// of the project with Caddy.
//
// This file holds every caddy.RegisterModule call of the project, so the list
// of modules can be read at a glance; caddyfile.go holds every directive,
// global option and directive-order registration.
package caddybff

import (
	"github.com/caddyserver/caddy/v2"

	cacheapp "github.com/caddy-bff/caddy-bff/cache/app"
	cacheredis "github.com/caddy-bff/caddy-bff/cache/redis"
	"github.com/caddy-bff/caddy-bff/handlers/authproxy"
	"github.com/caddy-bff/caddy-bff/handlers/nextjsbridge"
	"github.com/caddy-bff/caddy-bff/handlers/session"
	"github.com/caddy-bff/caddy-bff/handlers/tagcache"
	"github.com/caddy-bff/caddy-bff/handlers/webhook"
	"github.com/caddy-bff/caddy-bff/matchers"
)

func init() {
	registerModules()
}

// registerModules registers every Caddy module of the project.
func registerModules() {
	// The tag cache: its app, its admin API routes, its distributed
	// backends (guest modules of the app, loaded by ID) and its HTTP handler.
	caddy.RegisterModule(cacheapp.App{})
	caddy.RegisterModule(cacheapp.AdminAPI{})
	caddy.RegisterModule(cacheredis.Config{})
	caddy.RegisterModule(tagcache.Handler{})
	// The endpoint a CMS calls to invalidate tags and paths in the app.
	caddy.RegisterModule(webhook.Handler{})
	caddy.RegisterModule(nextjsbridge.Handler{})

	// Session handlers, auth gating and Next.js-style matchers.
	caddy.RegisterModule(session.Callback{})
	caddy.RegisterModule(session.Logout{})
	caddy.RegisterModule(authproxy.Handler{})
	caddy.RegisterModule(matchers.MatchPathPattern{})
	caddy.RegisterModule(matchers.MatchCookie{})
	caddy.RegisterModule(matchers.MatchAuthenticated{})
}
