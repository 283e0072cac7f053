package app

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/cache"
)

// BackendNamespace is the namespace of the modules the app's `backend`
// field names: each implements cache.BackendProvider, and the `tag_cache`
// global option reads its Caddyfile block under its name (`redis` for
// tag_cache.backends.redis).
const BackendNamespace = "tag_cache.backends"

// loadBackend loads the backend module, if the config names one.
func (a *App) loadBackend(ctx caddy.Context) error {
	if a.Backend == nil {
		return nil
	}
	mod, err := ctx.LoadModule(a, "Backend")
	if err != nil {
		return fmt.Errorf("loading tag_cache backend: %v", err)
	}
	provider, ok := mod.(cache.BackendProvider)
	if !ok {
		return fmt.Errorf("tag_cache backend %T does not make store backends (cache.BackendProvider)", mod)
	}
	// The module's ID and configuration identify the stores it makes in the
	// pool (the raw JSON is gone once loaded).
	cfg, err := json.Marshal(provider)
	if err != nil {
		return fmt.Errorf("tag_cache backend: %v", err)
	}
	a.backend = provider
	a.backendID = string(mod.(caddy.Module).CaddyModule().ID) + ":" + string(cfg)
	return nil
}
