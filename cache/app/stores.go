package app

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/contain"
)

// storePool keeps stores alive across config reloads: a new config takes
// over the stores of the old one before the old one is cleaned up.
var storePool = caddy.NewUsagePool()

// pooledStore is the UsagePool value: the store and the goroutine that
// maintains it.
type pooledStore struct {
	store  *cache.Store
	cancel context.CancelFunc
}

// Destruct implements caddy.Destructor: the last config using the store is
// gone, so its background work ends and its backend closes.
func (p *pooledStore) Destruct() error {
	p.cancel()
	p.store.Close()
	return nil
}

// loadStore returns the named store of size bytes from the pool, building
// it (with its backend) when no config holds it yet.
func (a *App) loadStore(name string, size int64) (*cache.Store, error) {
	key := "tag_cache/store/" + name
	if a.backend != nil {
		// A distributed store is a different thing from a local one: a
		// reload that changes the backend's settings builds new stores.
		key += "@" + a.backendID
	}
	val, loaded, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		store, err := cache.NewStore(name, cache.StoreConfig{
			MaxSize:      uint64(size),
			MaxRetention: time.Duration(a.MaxRetention),
			KeepStale:    time.Duration(a.KeepStale),
			MaxTags:      a.MaxTags,
			MaxTagBytes:  tagBytesFor(a.MaxTagBytes, size),
		})
		if err != nil {
			return nil, err
		}
		if a.backend != nil {
			b, err := a.backend.NewBackend(name, store.Clock(), time.Duration(a.MaxRetention), a.logger)
			if err != nil {
				store.Close()
				return nil, err
			}
			store.UseBackend(b)
		}
		bg, cancel := context.WithCancel(context.Background())
		go contain.Loop(bg, a.logger, "tag clock pruning", time.Minute, store.Maintain)
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

// tagBytesFor is the tag clock's byte bound for a store of size bytes: the
// configured one, else an eighth of the store's budget within [1, 32] MiB,
// so a small store does not carry a large clock.
func tagBytesFor(configured, size int64) int64 {
	if configured > 0 {
		return configured
	}
	return min(max(size/8, 1<<20), cache.DefaultMaxTagBytes)
}

var _ caddy.Destructor = (*pooledStore)(nil)
