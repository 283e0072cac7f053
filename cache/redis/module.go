package redis

import (
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// CaddyModule returns the Caddy module information.
func (Config) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tag_cache.backends.redis",
		New: func() caddy.Module { return new(Config) },
	}
}

// Provision checks the configuration and expands its placeholders and
// secrets into the client's options.
func (c *Config) Provision(caddy.Context) error {
	opts, err := c.provision(caddy.NewReplacer())
	if err != nil {
		return err
	}
	c.opts = opts
	return nil
}

// NewBackend implements cache.BackendProvider: it returns the backend of
// the named store, with its own client and keys, which applies what it
// hears from the feed to clock and keeps tag records in Redis for
// retention (the app's max_retention). It follows the feed until Close.
func (c *Config) NewBackend(store string, clock *cache.TagClock, retention time.Duration, logger *zap.Logger) (cache.Backend, error) {
	if c.opts == nil {
		return nil, errors.New("redis backend used before it was provisioned")
	}
	// Each store has its own client; none shares the TLS configuration.
	opts := *c.opts
	if opts.TLSConfig != nil {
		opts.TLSConfig = opts.TLSConfig.Clone()
	}
	return newBackend(c, &opts, store, clock, retention, logger), nil
}

// Interface guards.
var (
	_ caddy.Module          = (*Config)(nil)
	_ caddy.Provisioner     = (*Config)(nil)
	_ cache.BackendProvider = (*Config)(nil)
)
