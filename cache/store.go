package cache

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Store is one named cache: entries in memory under a byte budget, the tag
// clock that decides whether they are still valid, and the in-flight fills
// that coalesce concurrent misses. The tag_cache app keeps its stores in a
// caddy.UsagePool so a config reload keeps them warm.
type Store struct {
	name    string
	entries *otter.Cache[string, *Entry]
	clock   *TagClock
	backend Backend
	// shared is the backend's shared second level, when it has one: it is
	// consulted after local misses.
	shared SharedEntries

	maxRetention time.Duration
	keepStale    time.Duration

	// pages indexes the tags of pages an app caches itself (pages.go);
	// generated remembers when it generated them.
	pages     PageIndex
	generated generationTimes
	// pagesInUse is set once a page is reported or a Next.js handler uses
	// the store: until then an invalidation does not read the index (in
	// Redis mode, a round trip saved for sites that do not use it).
	pagesInUse atomic.Bool

	flightsMu   sync.Mutex
	flights     map[string]*Flight
	flightBytes int

	stats counters
	now   func() time.Time
}

type counters struct {
	hits, misses, staleServes, revalidations, stores, uncacheable atomic.Uint64
	invalidations, invalidatedTags                                atomic.Uint64
	refreshFailures                                               atomic.Uint64
}

// Stats is a snapshot of a store's state and counters, as the admin API's
// GET /tag_cache/stats reports it. Counters count since the store was made
// (a config reload keeps them).
type Stats struct {
	// Name is the store's name.
	Name string `json:"name"`
	// Entries is the number of entries held in memory.
	Entries int `json:"entries"`
	// Bytes is what the entries weigh for the budget, in bytes.
	Bytes uint64 `json:"bytes"`
	// MaxBytes is the budget, in bytes.
	MaxBytes uint64 `json:"max_bytes"`
	// Hits counts requests answered from the store while fresh.
	Hits uint64 `json:"hits"`
	// Misses counts requests that found no usable entry.
	Misses uint64 `json:"misses"`
	// StaleServes counts requests answered with a stale entry.
	StaleServes uint64 `json:"stale_serves"`
	// Revalidations counts conditional requests sent upstream.
	Revalidations uint64 `json:"revalidations"`
	// Stores counts responses stored.
	Stores uint64 `json:"stores"`
	// Uncacheable counts responses that could not be stored.
	Uncacheable uint64 `json:"uncacheable"`
	// Invalidations counts invalidations recorded.
	Invalidations uint64 `json:"invalidations"`
	// InvalidatedTags counts the tags and paths those invalidations named.
	InvalidatedTags uint64 `json:"invalidated_tags"`
	// TagRecords is the number of records the tag clock holds.
	TagRecords int `json:"tag_records"`
	// TagRecordBytes is what the tag clock's records weigh, in bytes.
	TagRecordBytes int64 `json:"tag_record_bytes"`
	// RefreshFailures counts background refreshes that failed: the origin
	// broke off, timed out or a handler panicked.
	RefreshFailures uint64 `json:"refresh_failures"`
	// Flights is the number of upstream fills in progress.
	Flights int `json:"flights"`
	// Clock is the tag clock's current value.
	Clock uint64 `json:"clock"`
	// Backend describes the invalidation backend and its health.
	Backend BackendStatus `json:"backend"`
}

// StoreConfig sizes a store.
type StoreConfig struct {
	// MaxSize is the byte budget of the store's entries. It is required.
	MaxSize uint64
	// MaxRetention caps how long any entry is kept after its fetch started;
	// it is also how long tag records are remembered. Default: 0, no cap
	// (the tag_cache app always sets one).
	MaxRetention time.Duration
	// KeepStale is how long an entry is kept after it goes stale, so it can
	// be revalidated with a 304 instead of refetched, or answer while the
	// origin is unreachable. Default: 0, not kept beyond its own windows.
	KeepStale time.Duration
	// MaxTags bounds the tag clock's records. Default: DefaultMaxTags.
	MaxTags int
	// MaxTagBytes bounds what the tag clock's records weigh. Default:
	// DefaultMaxTagBytes.
	MaxTagBytes int64
}

// NewStore returns an empty store.
func NewStore(name string, cfg StoreConfig) (*Store, error) {
	if cfg.MaxSize == 0 {
		return nil, errors.New("store max size must be positive")
	}
	s := &Store{
		name:         name,
		clock:        NewTagClock(cfg.MaxTags).withMaxBytes(cfg.MaxTagBytes),
		maxRetention: cfg.MaxRetention,
		keepStale:    cfg.KeepStale,
		flights:      make(map[string]*Flight),
		now:          time.Now,
	}
	s.backend = &memoryBackend{clock: s.clock}
	s.pages = newMemoryPages(0, func(paths []string) {
		// Forgotten by the index: expire them here, so no entry outlives
		// the knowledge of its tags.
		tags := make([]string, len(paths))
		for i, p := range paths {
			tags[i] = RecordKey(PathTag(p))
		}
		s.clock.Invalidate(tags, ModeExpire)
	})
	cache, err := otter.New(&otter.Options[string, *Entry]{
		MaximumWeight: cfg.MaxSize,
		Weigher:       func(_ string, e *Entry) uint32 { return e.Size() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *Entry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		return nil, err
	}
	s.entries = cache
	return s, nil
}

// UseBackend makes b the store's backend, in place of the embedded one that
// records invalidations in the store's tag clock alone. Invalidations go
// through b from then on; so do the page index and the shared second level
// when b offers them (PageIndexBackend, SharedEntriesBackend). Call it
// before the store is used; Close closes b.
func (s *Store) UseBackend(b Backend) {
	s.backend = b
	if pb, ok := b.(PageIndexBackend); ok {
		if index := pb.PageIndex(); index != nil {
			s.pages = index
		}
	}
	s.shared = nil
	if sb, ok := b.(SharedEntriesBackend); ok {
		s.shared = sb.SharedEntries()
	}
}

// DeliveryMemory returns the backend's memory of webhook deliveries, shared
// by every instance, or nil when the backend has none (the webhook then
// remembers deliveries in its own memory).
func (s *Store) DeliveryMemory() DeliveryMemory {
	if db, ok := s.backend.(DeliveryMemoryBackend); ok {
		return db.DeliveryMemory()
	}
	return nil
}

// Name returns the store's name ("" for the default store).
func (s *Store) Name() string { return s.name }

// Clock returns the store's tag clock.
func (s *Store) Clock() *TagClock { return s.clock }

// SetMaxSize changes the byte budget, for a reload that resizes the store.
func (s *Store) SetMaxSize(n uint64) { s.entries.SetMaximum(n) }

// Lookup returns the stored response for r, following the Vary marker of its
// primary key. varyMiss reports that responses exist for the URI but none
// for this request's Vary selection. The entry is returned whatever its
// freshness or tag validity: the caller judges it.
func (s *Store) Lookup(r *http.Request) (e *Entry, varyMiss bool) {
	return s.LookupKey(PrimaryKey(r), r)
}

// LookupKey is Lookup for a caller that already computed the primary key.
func (s *Store) LookupKey(primary string, r *http.Request) (e *Entry, varyMiss bool) {
	e, ok := s.entries.GetIfPresent(primary)
	if !ok {
		return nil, false
	}
	if e.varyMarker {
		e, ok = s.entries.GetIfPresent(VariantKey(primary, e.VaryNames, r))
		if !ok {
			return nil, true
		}
	}
	return e, false
}

// Put stores e (built by the caller from a judged response) under its key,
// with a Vary marker when the response varies. It refuses an entry whose
// fetch was overtaken by a hard invalidation of its tags: storing it would
// only waste the budget.
func (s *Store) Put(e *Entry) bool {
	e.Tags = recordKeys(e.Tags)
	if s.clock.Check(e.Clock, e.Tags) == HardInvalidated {
		return false
	}
	now := s.now()
	e.contentLength = []string{strconv.Itoa(len(e.Body))}
	e.ttl = e.retention(now, s.keepStale)
	if s.maxRetention > 0 {
		e.ttl = min(e.ttl, s.maxRetention-now.Sub(e.RequestTime))
	}
	if e.ttl <= 0 {
		return false
	}
	if len(e.VaryNames) > 0 {
		marker := &Entry{Key: e.PrimaryKey, PrimaryKey: e.PrimaryKey, VaryNames: e.VaryNames, varyMarker: true, ttl: e.ttl}
		if old, ok := s.entries.GetIfPresent(e.PrimaryKey); ok && old.varyMarker && slices.Equal(old.VaryNames, e.VaryNames) {
			marker.ttl = max(marker.ttl, old.ttl)
		}
		s.entries.Set(e.PrimaryKey, marker)
	}
	s.entries.Set(e.Key, e)
	s.stats.stores.Add(1)
	if s.shared != nil && !e.fromShared {
		s.shared.Offer(e, e.ttl)
	}
	return true
}

// SharesEntries reports whether the store has a shared second level.
func (s *Store) SharesEntries() bool { return s.shared != nil }

// LookupShared looks r up in the shared second level after a local miss.
// An entry found there is checked against the local clock and the tag
// records of the shared engine, then kept locally. It returns nil when there
// is no second level, nothing usable in it, or the engine does not answer
// in time.
func (s *Store) LookupShared(ctx context.Context, r *http.Request) *Entry {
	if !s.SharesEntries() || !s.backend.Trustworthy() {
		return nil
	}
	e, err := s.shared.Get(ctx, r)
	if err != nil || e == nil {
		return nil
	}
	if s.clock.Check(e.Clock, e.Tags) != Valid {
		return nil
	}
	hard, soft, err := s.shared.TagState(ctx, e.Tags)
	if err != nil || hard > e.Clock || soft > e.Clock {
		return nil
	}
	e.fromShared = true
	if !s.Put(e) {
		return nil
	}
	return e
}

// Holds reports whether anything is stored under the primary key.
func (s *Store) Holds(primaryKey string) bool {
	_, ok := s.entries.GetIfPresent(primaryKey)
	return ok
}

// Remove deletes the entry stored under key.
func (s *Store) Remove(key string) { s.entries.Invalidate(key) }

// Flush drops every entry (the tag clock is kept: it is cheap and dropping
// it could resurrect nothing anyway).
func (s *Store) Flush() int {
	n := s.entries.EstimatedSize()
	s.entries.InvalidateAll()
	return n
}

// Invalidate records an invalidation of tags and paths in mode through the
// store's backend. It returns only once the invalidation is recorded where
// every instance will see it; an error means it was not recorded.
func (s *Store) Invalidate(ctx context.Context, tags, paths []string, mode Mode) (uint64, error) {
	// Pages an app reported depending on these tags go too (pages.go).
	expanded, err := s.expandTags(ctx, tags)
	if err != nil {
		return 0, err
	}
	all := make([]string, 0, len(tags)+len(paths)+len(expanded))
	all = append(all, tags...)
	for _, p := range paths {
		all = append(all, PathTag(p))
	}
	all = append(all, expanded...)
	return s.InvalidateTags(ctx, all, mode)
}

// InvalidateTags records an invalidation of raw tags (including implicit
// path: and uri: tags) in mode through the store's backend.
func (s *Store) InvalidateTags(ctx context.Context, all []string, mode Mode) (uint64, error) {
	if len(all) == 0 {
		return s.clock.Now(), nil
	}
	// Long tags are recorded under a digest, in memory and in a distributed
	// backend alike,
	// so a record's size does not depend on the request (design invariant 7).
	v, err := s.backend.Record(ctx, recordKeys(all), mode)
	if err != nil {
		return 0, err
	}
	s.stats.invalidations.Add(1)
	s.stats.invalidatedTags.Add(uint64(len(all)))
	return v, nil
}

// Validity judges a stored entry against the tag clock and the backend's
// health: an instance whose invalidation feed is down beyond its bound
// cannot trust any entry as fresh (design invariant 3).
func (s *Store) Validity(e *Entry) Validity {
	v := s.clock.Check(e.Clock, e.Tags)
	if v != HardInvalidated && !s.backend.Trustworthy() {
		return Unverified
	}
	return v
}

// Record* count what the handler did, for stats and metrics.
func (s *Store) RecordHit()          { s.stats.hits.Add(1) }
func (s *Store) RecordMiss()         { s.stats.misses.Add(1) }
func (s *Store) RecordStaleServe()   { s.stats.staleServes.Add(1) }
func (s *Store) RecordRevalidation() { s.stats.revalidations.Add(1) }
func (s *Store) RecordUncacheable()  { s.stats.uncacheable.Add(1) }

// RecordRefreshFailure counts a background refresh that did not complete.
func (s *Store) RecordRefreshFailure() { s.stats.refreshFailures.Add(1) }

// Stats returns a snapshot of the store.
func (s *Store) Stats() Stats {
	return Stats{
		Name:            s.name,
		Entries:         s.entries.EstimatedSize(),
		Bytes:           s.entries.WeightedSize(),
		MaxBytes:        s.entries.GetMaximum(),
		Hits:            s.stats.hits.Load(),
		Misses:          s.stats.misses.Load(),
		StaleServes:     s.stats.staleServes.Load(),
		Revalidations:   s.stats.revalidations.Load(),
		Stores:          s.stats.stores.Load(),
		Uncacheable:     s.stats.uncacheable.Load(),
		Invalidations:   s.stats.invalidations.Load(),
		InvalidatedTags: s.stats.invalidatedTags.Load(),
		TagRecords:      s.clock.Len(),
		TagRecordBytes:  s.clock.Bytes(),
		RefreshFailures: s.stats.refreshFailures.Load(),
		Flights:         s.Flights(),
		Clock:           s.clock.Now(),
		Backend:         s.backend.Status(),
	}
}

// CleanUp runs pending eviction work now; tests call it before measuring.
func (s *Store) CleanUp() { s.entries.CleanUp() }

// Maintain prunes the tag clock until ctx ends: records older than the
// store's MaxRetention go, once a minute. Whoever keeps the store runs it.
func (s *Store) Maintain(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.maxRetention > 0 {
				s.clock.Prune(s.maxRetention)
			}
		}
	}
}

// Close stops the store's background work and closes its backend. The
// tag_cache app closes its stores from its usage pool, once no config uses
// them.
func (s *Store) Close() {
	s.backend.Close()
	s.entries.StopAllGoroutines()
}
