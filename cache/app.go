package cache

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-bff/caddy-bff/internal/contain"
)

// App is the `tag_cache` app: it owns the named stores (and the default one)
// with their tag clocks, and the invalidation API the revalidate_webhook
// handler and the admin API use. Stores survive config reloads.
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
	// Stores are additional named stores with their own budgets, chosen by a
	// handler's `store` field. Each has its own tag clock.
	Stores map[string]*StoreOptions `json:"stores,omitempty"`
	// Redis turns on distributed mode: invalidations are recorded in Redis
	// and reach every instance sharing it, and entries can be shared too.
	// Without it the cache is the embedded, single-instance default.
	Redis *RedisConfig `json:"redis,omitempty"`

	stores map[string]*Store
	keys   []string
	events *caddyevents.App
	ctx    caddy.Context
	logger *zap.Logger
}

// StoreOptions size one named store.
type StoreOptions struct {
	// MaxSize is the store's memory budget in bytes. Default: the app's.
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

// storePool keeps stores alive across config reloads: a new config takes
// over the stores of the old one before the old one is cleaned up.
var storePool = caddy.NewUsagePool()

// pooledStore is the UsagePool value: the store and the goroutine that
// maintains it.
type pooledStore struct {
	store  *Store
	cancel context.CancelFunc
}

// Destruct implements caddy.Destructor: the last config using the store is
// gone, so its background work ends.
func (p *pooledStore) Destruct() error {
	p.cancel()
	p.store.close()
	return nil
}

// Provision sets defaults and takes the stores from the pool.
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

	sizes := map[string]int64{DefaultStore: a.MaxSize}
	for name, opts := range a.Stores {
		size := a.MaxSize
		if opts != nil && opts.MaxSize > 0 {
			size = opts.MaxSize
		}
		sizes[name] = size
	}
	a.stores = make(map[string]*Store, len(sizes))
	for name, size := range sizes {
		store, err := a.loadStore(ctx, name, size)
		if err != nil {
			return err
		}
		a.stores[name] = store
	}
	return registerMetrics(ctx, a)
}

func (a *App) loadStore(ctx caddy.Context, name string, size int64) (*Store, error) {
	key := "tag_cache/store/" + name
	var redisOpts *redis.UniversalOptions
	if a.Redis != nil {
		// A distributed store is a different thing from a local one: a
		// reload that changes the Redis settings builds new stores.
		key += "@redis:" + a.Redis.identity()
		var err error
		if redisOpts, err = a.Redis.provision(caddy.NewReplacer()); err != nil {
			return nil, err
		}
	}
	val, loaded, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		store, err := NewStore(name, StoreConfig{
			MaxSize:      uint64(size),
			MaxRetention: time.Duration(a.MaxRetention),
			KeepStale:    time.Duration(a.KeepStale),
			MaxTags:      a.MaxTags,
			MaxTagBytes:  tagBytesFor(a.MaxTagBytes, size),
		})
		if err != nil {
			return nil, err
		}
		bg, cancel := context.WithCancel(context.Background())
		if redisOpts != nil {
			rb := newRedisBackend(a.Redis, redisOpts, name, store.clock, time.Duration(a.MaxRetention), a.logger)
			store.attachRedis(rb)
			if rb.shared != nil {
				go contain.Loop(bg, a.logger, "shared entries writer", time.Second, rb.shared.writeLoop)
			}
		}
		go contain.Loop(bg, a.logger, "tag clock pruning", time.Minute, store.maintain)
		return &pooledStore{store: store, cancel: cancel}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("store %q: %v", name, err)
	}
	a.keys = append(a.keys, key)
	store := val.(*pooledStore).store
	if loaded {
		// A reload may resize a warm store.
		store.SetMaxSize(uint64(size))
	}
	return store, nil
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
func (a *App) Store(name string) (*Store, error) {
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

// Invalidation is a request to invalidate tags and paths in one store.
type Invalidation struct {
	// Store names the store; "" is the default store.
	Store string `json:"store,omitempty"`
	// Tags to invalidate.
	Tags []string `json:"tags,omitempty"`
	// Paths to invalidate (each entry's implicit path tag).
	Paths []string `json:"paths,omitempty"`
	// Mode is expire (default) or stale.
	Mode Mode `json:"mode,omitempty"`
	// Source says who asked (webhook, admin), for logs and events.
	Source string `json:"-"`
}

// Invalidate validates and records inv. It returns only once the
// invalidation is recorded where every instance will see it; an error means
// nothing was recorded (an *InvalidRequestError for bad input, anything else
// for a backend that could not record it). On success it emits the
// `tag_revalidated` event.
func (a *App) Invalidate(ctx context.Context, inv Invalidation) (uint64, error) {
	if inv.Mode == "" {
		inv.Mode = ModeExpire
	}
	if err := ValidateInvalidation(inv.Tags, inv.Paths, inv.Mode); err != nil {
		return 0, err
	}
	store, err := a.Store(inv.Store)
	if err != nil {
		return 0, &InvalidRequestError{Msg: err.Error()}
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
	_ caddy.Destructor   = (*pooledStore)(nil)
)

// tagBytesFor is the tag clock's byte bound for a store of size bytes: the
// configured one, else an eighth of the store's budget within [1, 32] MiB,
// so a small store does not carry a large clock.
func tagBytesFor(configured, size int64) int64 {
	if configured > 0 {
		return configured
	}
	return min(max(size/8, 1<<20), DefaultMaxTagBytes)
}
