package cache

import (
	"context"
	"net/http"
	"time"
)

// The optional capabilities of a Backend. A store asks its backend for each
// by type assertion when the backend is attached (Store.UseBackend), so the
// engine never names the engine behind them.

// SharedEntriesBackend is a Backend that may keep a second level of entries
// shared by every instance, so that one can answer what another fetched.
type SharedEntriesBackend interface {
	// SharedEntries returns the shared second level, or nil when the
	// backend is configured without one.
	SharedEntries() SharedEntries
}

// SharedEntries is a second level of entries shared by every instance. The
// store consults it only after a local miss, so a local HIT never waits on
// it.
type SharedEntries interface {
	// Offer hands over e, just stored locally and kept there for ttl, to
	// be copied to the shared level. It must not block the response: an
	// implementation may drop what it cannot keep up with.
	Offer(e *Entry, ttl time.Duration)
	// Get returns the shared entry for r, or nil when there is none.
	Get(ctx context.Context, r *http.Request) (*Entry, error)
	// TagState returns the highest clock values of the hard and soft
	// invalidations of tags as the shared engine recorded them, so that an
	// entry another instance stored is checked against invalidations this
	// instance may not have heard of yet.
	TagState(ctx context.Context, tags []string) (hard, soft uint64, err error)
}

// PageIndexBackend is a Backend that keeps the page index (see
// Store.LearnPage) where every instance shares it.
type PageIndexBackend interface {
	// PageIndex returns the shared page index, or nil to keep the store's
	// own in memory.
	PageIndex() PageIndex
}

// PageIndex maps tags to the paths of the pages that depend on them: the
// pages an app caches itself and reports through Store.LearnPage.
type PageIndex interface {
	// Add indexes the page at path under each of tags.
	Add(ctx context.Context, path string, tags []string) error
	// Paths returns the paths of the pages indexed under any of tags.
	Paths(ctx context.Context, tags []string) ([]string, error)
}

// DeliveryMemoryBackend is a Backend that can remember webhook deliveries
// where every instance sees them, so that a delivery replayed to another
// instance is refused too.
type DeliveryMemoryBackend interface {
	// DeliveryMemory returns the backend's delivery memory, or nil when it
	// has none.
	DeliveryMemory() DeliveryMemory
}

// DeliveryMemory remembers acknowledged webhook deliveries by key.
type DeliveryMemory interface {
	// ClaimDelivery records key for ttl unless it is already recorded, and
	// reports whether it recorded it.
	ClaimDelivery(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// ReleaseDelivery forgets key.
	ReleaseDelivery(ctx context.Context, key string) error
}
