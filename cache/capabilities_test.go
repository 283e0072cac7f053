package cache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// sharingBackend is a distributed backend as the engine sees it: it records
// into the local clock (as if it had heard its own feed) and offers every
// optional capability, kept in memory, so the test can watch what the store
// asks of it.
type sharingBackend struct {
	memoryBackend
	mu        sync.Mutex
	offered   map[string]time.Duration // entry key -> ttl
	remote    map[string]*Entry        // what another instance shared
	hard      uint64                   // TagState's answer
	indexed   map[string][]string      // tag -> paths
	claimed   map[string]bool
	withLevel bool
}

func (b *sharingBackend) SharedEntries() SharedEntries {
	if !b.withLevel {
		return nil
	}
	return b
}

func (b *sharingBackend) Offer(e *Entry, ttl time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.offered[e.Key] = ttl
}

func (b *sharingBackend) Get(_ context.Context, r *http.Request) (*Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.remote[PrimaryKey(r)], nil
}

func (b *sharingBackend) TagState(context.Context, []string) (uint64, uint64, error) {
	return b.hard, 0, nil
}

func (b *sharingBackend) PageIndex() PageIndex { return b }

func (b *sharingBackend) Add(_ context.Context, path string, tags []string) error {
	for _, t := range tags {
		b.indexed[t] = append(b.indexed[t], path)
	}
	return nil
}

func (b *sharingBackend) Paths(_ context.Context, tags []string) ([]string, error) {
	var out []string
	for _, t := range tags {
		out = append(out, b.indexed[t]...)
	}
	return out, nil
}

func (b *sharingBackend) DeliveryMemory() DeliveryMemory { return b }

func (b *sharingBackend) ClaimDelivery(_ context.Context, key string, _ time.Duration) (bool, error) {
	if b.claimed[key] {
		return false, nil
	}
	b.claimed[key] = true
	return true, nil
}

func (b *sharingBackend) ReleaseDelivery(_ context.Context, key string) error {
	delete(b.claimed, key)
	return nil
}

func newSharingStore(t *testing.T, withLevel bool) (*Store, *sharingBackend) {
	t.Helper()
	s, err := NewStore("shared", StoreConfig{MaxSize: 1 << 20, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	b := &sharingBackend{
		memoryBackend: memoryBackend{clock: s.Clock()},
		offered:       map[string]time.Duration{}, remote: map[string]*Entry{},
		indexed: map[string][]string{}, claimed: map[string]bool{}, withLevel: withLevel,
	}
	s.UseBackend(b)
	return s, b
}

func sharedTestEntry(s *Store, path string, tags ...string) *Entry {
	now := time.Now()
	key := "http://example.com" + path
	return &Entry{Key: key, PrimaryKey: key, Path: path, Status: 200, Header: http.Header{},
		Body: []byte(path), RequestTime: now, ResponseTime: now, DateValue: now, Reuse: Reuse{Lifetime: time.Hour},
		Tags: append([]string{PathTag(path)}, tags...), Clock: s.Clock().Now()}
}

// A backend's optional capabilities are found by type assertion: the store
// offers what it stores to the shared level (never what came from it),
// checks a shared entry against the backend's tag records, and keeps its
// page index and delivery memory in the backend.
func TestStoreUsesBackendCapabilities(t *testing.T) {
	s, b := newSharingStore(t, true)
	if !s.SharesEntries() {
		t.Fatal("the backend's shared level was not picked up")
	}
	local := sharedTestEntry(s, "/local")
	if !s.Put(local) {
		t.Fatal("entry not stored")
	}
	if ttl, ok := b.offered[local.Key]; !ok || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("stored entry offered with ttl %v (offered: %v)", ttl, ok)
	}

	remote := sharedTestEntry(s, "/remote", "posts")
	b.remote[remote.PrimaryKey] = remote
	req := httptest.NewRequest(http.MethodGet, "http://example.com/remote", nil)
	b.hard = remote.Clock + 1 // invalidated where the backend records it
	if e := s.LookupShared(t.Context(), req); e != nil {
		t.Fatal("a shared entry the backend's tag records invalidate was used")
	}
	b.hard = 0
	e := s.LookupShared(t.Context(), req)
	if e == nil || string(e.Body) != "/remote" {
		t.Fatalf("shared entry: %v", e)
	}
	if _, again := b.offered[remote.Key]; again {
		t.Fatal("an entry read from the shared level was offered back to it")
	}
	if got, _ := s.Lookup(req); got != e {
		t.Fatal("the shared entry was not kept locally")
	}

	// The page index lives in the backend.
	if err := s.LearnPage(t.Context(), PageReport{Path: "/posts", Tags: []string{"posts"}, Generated: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.indexed["posts"], []string{"/posts"}) {
		t.Fatalf("backend's page index: %v", b.indexed)
	}
	page := sharedTestEntry(s, "/posts")
	s.Put(page)
	if _, err := s.Invalidate(t.Context(), []string{"posts"}, nil, ModeExpire); err != nil {
		t.Fatal(err)
	}
	if got := s.Validity(page); got != HardInvalidated {
		t.Fatalf("page indexed in the backend after its tag was invalidated: %v", got)
	}

	mem := s.DeliveryMemory()
	if mem == nil {
		t.Fatal("the backend's delivery memory was not offered")
	}
	if ok, _ := mem.ClaimDelivery(t.Context(), "d", time.Minute); !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := mem.ClaimDelivery(t.Context(), "d", time.Minute); ok {
		t.Fatal("second claim of one delivery accepted")
	}
}

// Without the capabilities (the embedded backend, or a backend configured
// without a shared level) the store keeps everything to itself.
func TestStoreWithoutBackendCapabilities(t *testing.T) {
	s, err := NewStore("plain", StoreConfig{MaxSize: 1 << 20, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.SharesEntries() || s.DeliveryMemory() != nil {
		t.Fatal("the embedded backend offers a shared level or a delivery memory")
	}
	req := httptest.NewRequest(http.MethodGet, "http://example.com/x", nil)
	if e := s.LookupShared(t.Context(), req); e != nil {
		t.Fatal("LookupShared answered without a shared level")
	}
	s2, _ := newSharingStore(t, false)
	if s2.SharesEntries() {
		t.Fatal("a backend without a shared level was taken to have one")
	}
}
