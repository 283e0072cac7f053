package cache

import "context"

// Backend records invalidations where every instance sharing the cache will
// see them. The embedded default keeps them in the store's own tag clock; the
// distributed backend records them in Redis first and applies the changes it
// hears from its feed.
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
	// Kind is "memory" or "redis".
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
