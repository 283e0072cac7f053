package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/cache"
)

// App is the `tag_cache` app: it owns the named stores (and the default one)
// with their tag clocks, and the invalidation API the revalidate_webhook
// handler and the admin API use. Stores survive config reloads. With a
// backend (a module of the tag_cache.backends namespace) every store is
// distributed through it.
type App struct {
	// MaxSize is the default store's memory budget in bytes. Default: 256 MiB.
	MaxSize int64 `json:"max_size,omitempty"`
	// MaxRetention caps how long an entry is kept after its fetch started,
	// whatever its freshness; it also bounds how long the tag clock
	// remembers invalidations. Default: 24h.
	MaxRetention caddy.Duration `json:"max_retention,omitempty"`
	// KeepStale is how long an entry is kept after it goes stale, so that a
	// 304 can refresh it, or it can answer while the origin is unreachable
	// (unless the response forbids serving it stale). Default: 10m.
	KeepStale caddy.Duration `json:"keep_stale,omitempty"`
	// MaxTags bounds the tag clock's records; beyond it the oldest half is
	// folded into a floor that conservatively expires older entries.
	// Default: 1048576.
	MaxTags int `json:"max_tags,omitempty"`
	// MaxTagBytes bounds what the tag clock's records weigh, in bytes (a
	// record is at most about 150 bytes: longer tags are recorded under a
	// digest); beyond it the oldest half is folded into the floor the same
	// way. Default: an eighth of the store's max_size, at least 1 MiB and
	// at most 32 MiB (32 MiB for the default 256 MiB store).
	MaxTagBytes int64 `json:"max_tag_bytes,omitempty"`
	// Stores are additional named stores, keyed by name, with their own
	// budgets, chosen by a handler's `store` field. Each has its own tag
	// clock. Default: none beside the default store.
	Stores map[string]*StoreOptions `json:"stores,omitempty"`
	// Backend turns on distributed mode: a module of the tag_cache.backends
	// namespace, named by its "module" key, such as
	// {"module": "redis", "url": "redis://..."}. Invalidations are recorded
	// through it and reach every instance sharing it, and entries can be
	// shared too. Default: none, the embedded single-instance cache.
	Backend json.RawMessage `json:"backend,omitempty" caddy:"namespace=tag_cache.backends inline_key=module"`

	// backend makes the backend of each store; nil without one.
	backend cache.BackendProvider
	// backendID tells distributed stores apart in the pool: the backend
	// module's ID and configuration.
	backendID string

	stores map[string]*cache.Store
	keys   []string
	events *caddyevents.App
	ctx    caddy.Context
	logger *zap.Logger
}

// StoreOptions size one named store.
type StoreOptions struct {
	// MaxSize is the store's memory budget in bytes. Default: the app's
	// max_size.
	MaxSize int64 `json:"max_size,omitempty"`
}

// DefaultStore is the name of the store used when a handler names none.
const DefaultStore = "default"

// Defaults.
const (
	DefaultMaxSize      = 256 << 20
	DefaultMaxRetention = 24 * time.Hour
	DefaultKeepStale    = 10 * time.Minute
)

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tag_cache",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets defaults, loads the backend module and takes the stores
// from the pool.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	if a.MaxSize == 0 {
		a.MaxSize = DefaultMaxSize
	}
	if a.MaxRetention == 0 {
		a.MaxRetention = caddy.Duration(DefaultMaxRetention)
	}
	if a.KeepStale == 0 {
		a.KeepStale = caddy.Duration(DefaultKeepStale)
	}
	if err := a.Validate(); err != nil {
		return err
	}
	eventsApp, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("loading events app: %v", err)
	}
	a.events = eventsApp.(*caddyevents.App)
	if err := a.loadBackend(ctx); err != nil {
		return err
	}

	sizes := map[string]int64{DefaultStore: a.MaxSize}
	for name, opts := range a.Stores {
		size := a.MaxSize
		if opts != nil && opts.MaxSize > 0 {
			size = opts.MaxSize
		}
		sizes[name] = size
	}
	a.stores = make(map[string]*cache.Store, len(sizes))
	for name, size := range sizes {
		store, err := a.loadStore(name, size)
		if err != nil {
			return err
		}
		a.stores[name] = store
	}
	return registerMetrics(ctx, a)
}

// Validate checks the configuration.
func (a *App) Validate() error {
	if a.MaxSize < 0 {
		return fmt.Errorf("max_size must be positive, got %d", a.MaxSize)
	}
	if a.MaxTagBytes < 0 {
		return fmt.Errorf("max_tag_bytes must not be negative, got %d", a.MaxTagBytes)
	}
	if a.MaxTags < 0 {
		return fmt.Errorf("max_tags must not be negative, got %d", a.MaxTags)
	}
	for name, opts := range a.Stores {
		if name == "" || name == DefaultStore {
			return fmt.Errorf("store name %q is reserved", name)
		}
		if opts != nil && opts.MaxSize < 0 {
			return fmt.Errorf("store %q: max_size must be positive", name)
		}
	}
	return nil
}

// Start implements caddy.App. Every app is provisioned by now, so this is
// where the HTTP routes are checked for a gate ordered after the cache.
func (a *App) Start() error {
	a.checkGateOrder()
	return nil
}

// Stop implements caddy.App. Stores keep running for the next config; the
// pool ends them when no config uses them any more.
func (a *App) Stop() error { return nil }

// Cleanup releases this config's hold on its stores.
func (a *App) Cleanup() error {
	for _, key := range a.keys {
		_, _ = storePool.Delete(key)
	}
	return nil
}

// Store returns the named store; "" means the default store.
func (a *App) Store(name string) (*cache.Store, error) {
	if name == "" {
		name = DefaultStore
	}
	s, ok := a.stores[name]
	if !ok {
		return nil, fmt.Errorf("tag_cache has no store named %q", name)
	}
	return s, nil
}

// StoreNames returns the names of the app's stores, sorted.
func (a *App) StoreNames() []string {
	names := make([]string, 0, len(a.stores))
	for name := range a.stores {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Invalidate validates and records inv. It returns only once the
// invalidation is recorded where every instance will see it; an error means
// nothing was recorded (a *cache.InvalidRequestError for bad input, anything
// else for a backend that could not record it). On success it emits the
// `tag_revalidated` event.
func (a *App) Invalidate(ctx context.Context, inv cache.Invalidation) (uint64, error) {
	if inv.Mode == "" {
		inv.Mode = cache.ModeExpire
	}
	if err := cache.ValidateInvalidation(inv.Tags, inv.Paths, inv.Mode); err != nil {
		return 0, err
	}
	store, err := a.Store(inv.Store)
	if err != nil {
		return 0, &cache.InvalidRequestError{Msg: err.Error()}
	}
	clock, err := store.Invalidate(ctx, inv.Tags, inv.Paths, inv.Mode)
	if err != nil {
		a.logger.Error("invalidation not recorded",
			zap.String("store", store.Name()), zap.String("source", inv.Source),
			zap.Int("tags", len(inv.Tags)), zap.Int("paths", len(inv.Paths)), zap.Error(err))
		return 0, err
	}
	a.events.Emit(a.ctx, "tag_revalidated", map[string]any{
		"store":  store.Name(),
		"tags":   inv.Tags,
		"paths":  inv.Paths,
		"mode":   string(inv.Mode),
		"clock":  clock,
		"source": inv.Source,
	})
	return clock, nil
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// FromContext returns the tag_cache app of the config being provisioned,
// loading it if no module has yet: the one way handlers reach it.
func FromContext(ctx caddy.Context) (*App, error) {
	appIface, err := ctx.App("tag_cache")
	if err != nil {
		return nil, fmt.Errorf("loading tag_cache app: %v", err)
	}
	app, ok := appIface.(*App)
	if !ok {
		return nil, fmt.Errorf("tag_cache app is %T, not caddy-bff's", appIface)
	}
	return app, nil
}

// StoreFromContext returns the named store of the config's tag_cache app
// ("" is the default store).
func StoreFromContext(ctx caddy.Context, name string) (*App, *cache.Store, error) {
	app, err := FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	store, err := app.Store(name)
	return app, store, err
}
