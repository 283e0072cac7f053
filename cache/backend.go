package cache

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Backend records invalidations where every instance sharing the cache will
// see them. The embedded default keeps them in the store's own tag clock; a
// distributed backend (a module of the tag_cache app's backend namespace,
// such as Redis) records them in its shared engine first and applies the
// changes it hears from its feed.
//
// A backend may offer more than invalidations: a shared second level of
// entries (SharedEntriesBackend), a page index every instance shares
// (PageIndexBackend) and a replay memory for webhook deliveries
// (DeliveryMemoryBackend). The store asks for each by type assertion.
type Backend interface {
	// Record records an invalidation of tags in mode and returns its clock
	// value. It returns only once the invalidation is durable for every
	// instance; on error nothing was recorded.
	Record(ctx context.Context, tags []string, mode Mode) (uint64, error)
	// Trustworthy reports whether local entries can be served as fresh: false
	// while the backend has lost its invalidation feed beyond its bound.
	Trustworthy() bool
	// Status describes the backend for stats and metrics.
	Status() BackendStatus
	// Close stops the backend's background work.
	Close()
}

// BackendStatus describes an invalidation backend.
type BackendStatus struct {
	// Kind is "memory" for the embedded default, else the name of the
	// distributed backend ("redis").
	Kind string `json:"kind"`
	// Healthy is false when invalidations cannot be recorded or heard.
	Healthy bool `json:"healthy"`
	// Trusted is false while entries are not served as fresh because the
	// invalidation feed is down beyond its bound.
	Trusted bool `json:"trusted"`
	// Detail explains an unhealthy state.
	Detail string `json:"detail,omitempty"`
}

// memoryBackend records invalidations in the local tag clock only: the
// single-instance default, which needs nothing.
type memoryBackend struct{ clock *TagClock }

func (m *memoryBackend) Record(_ context.Context, tags []string, mode Mode) (uint64, error) {
	return m.clock.Invalidate(tags, mode), nil
}
func (m *memoryBackend) Trustworthy() bool { return true }
func (m *memoryBackend) Status() BackendStatus {
	return BackendStatus{Kind: "memory", Healthy: true, Trusted: true}
}
func (m *memoryBackend) Close() {}

// BackendProvider makes the Backend of each store. A distributed engine
// implements it as a guest module of the tag_cache app (namespace
// tag_cache.backends, such as tag_cache.backends.redis), which the app
// loads by ID from its `backend` field and asks for one backend per store.
type BackendProvider interface {
	// NewBackend returns the backend of the named store. It records
	// invalidations where every instance sees them and applies everyone's
	// to clock, the store's tag clock; it keeps what it records for at
	// least retention (the app's max_retention), and logs to logger. Its
	// background work runs until its Close.
	NewBackend(store string, clock *TagClock, retention time.Duration, logger *zap.Logger) (Backend, error)
}
