package tagcache

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/passthrough"
)

// newTestTagCache returns a provisioned handler on a fresh store.
func newTestTagCache(t testing.TB, h *Handler) (*Handler, *cache.Store) {
	t.Helper()
	store, err := cache.NewStore("test", cache.StoreConfig{MaxSize: 256 << 20, MaxRetention: time.Hour, KeepStale: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if h == nil {
		h = &Handler{}
	}
	if err := h.setup(zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	h.store = store
	return h, store
}

func do(t testing.TB, h *Handler, next caddyhttp.Handler, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return w
}

func TestTagCacheHitStripsTagsAndCountsAge(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		w.Header().Set("Cache-Control", "public, s-maxage=60")
		w.Header().Set("Cache-Tag", "posts,post-1")
		w.Header().Set("Surrogate-Key", "blog homepage")
		_, err := io.WriteString(w, "hello")
		return err
	})
	first := do(t, h, next, "GET", "http://example.com/a", nil)
	if cs := first.Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "stored") {
		t.Fatalf("first Cache-Status = %q, want a stored uri-miss", cs)
	}
	if first.Header().Get("Cache-Tag") != "" || first.Header().Get("Surrogate-Key") != "" {
		t.Fatalf("tag headers leaked to the client: %v", first.Header())
	}
	base := time.Now()
	h.now = func() time.Time { return base.Add(5 * time.Second) }
	second := do(t, h, next, "GET", "http://example.com/a", nil)
	if calls.Load() != 1 {
		t.Fatalf("upstream called %d times, want 1", calls.Load())
	}
	if cs := second.Header().Get("Cache-Status"); !strings.HasPrefix(cs, "caddy-bff; hit") {
		t.Fatalf("second Cache-Status = %q, want a hit", cs)
	}
	if age, _ := strconv.Atoi(second.Header().Get("Age")); age < 5 {
		t.Fatalf("Age = %q, want at least 5", second.Header().Get("Age"))
	}
	if second.Body.String() != "hello" || second.Header().Get("Cache-Tag") != "" {
		t.Fatalf("hit served %q with headers %v", second.Body.String(), second.Header())
	}
	head := do(t, h, next, "HEAD", "http://example.com/a", nil)
	if head.Body.Len() != 0 || head.Header().Get("Content-Length") != "5" || calls.Load() != 1 {
		t.Fatalf("HEAD from stored GET: body %q, Content-Length %q, upstream calls %d", head.Body.String(), head.Header().Get("Content-Length"), calls.Load())
	}
}

func TestTagCacheInvalidationByTagPathAndMode(t *testing.T) {
	h, store := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		if r.URL.Path == "/tagged" {
			w.Header().Set("x-next-cache-tags", "_N_T_/layout,blog")
		}
		_, err := fmt.Fprintf(w, "call %d", calls.Load())
		return err
	})
	do(t, h, next, "GET", "http://example.com/tagged", nil)
	do(t, h, next, "GET", "http://example.com/plain", nil)
	if _, err := store.Invalidate(t.Context(), []string{"blog"}, nil, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	if cs := do(t, h, next, "GET", "http://example.com/tagged", nil).Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=") {
		t.Fatalf("tagged entry after expire: %q, want a forward", cs)
	}
	if cs := do(t, h, next, "GET", "http://example.com/plain", nil).Header().Get("Cache-Status"); !strings.Contains(cs, "; hit") {
		t.Fatalf("untagged entry after expire: %q, want a hit", cs)
	}
	// Soft invalidation of a path: served stale once while one refresh runs.
	before := calls.Load()
	if _, err := store.Invalidate(t.Context(), nil, []string{"/plain"}, cache.ModeStale); err != nil {
		t.Fatal(err)
	}
	stale := do(t, h, next, "GET", "http://example.com/plain", nil)
	if cs := stale.Header().Get("Cache-Status"); !strings.Contains(cs, "soft-invalidated") {
		t.Fatalf("after soft invalidation: %q, want a stale hit", cs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := do(t, h, next, "GET", "http://example.com/plain", nil)
		if strings.Contains(w.Header().Get("Cache-Status"), "; hit; ttl=") && !strings.Contains(w.Header().Get("Cache-Status"), "detail") && w.Body.String() != stale.Body.String() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background refresh never replaced the stale entry (upstream calls %d -> %d)", before, calls.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := calls.Load() - before; got != 1 {
		t.Fatalf("soft invalidation caused %d upstream calls, want exactly 1", got)
	}
}

func TestTagCacheRefusesUnsafeToStore(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	for name, hdr := range map[string]http.Header{
		"set-cookie": {"Cache-Control": {"max-age=60"}, "Set-Cookie": {"sid=1"}},
		"private":    {"Cache-Control": {"private, max-age=60"}},
		"no-store":   {"Cache-Control": {"no-store"}},
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				calls.Add(1)
				for k, vs := range hdr {
					w.Header()[k] = vs
				}
				_, err := io.WriteString(w, "x")
				return err
			})
			do(t, h, next, "GET", "http://example.com/"+name, nil)
			do(t, h, next, "GET", "http://example.com/"+name, nil)
			if calls.Load() != 2 {
				t.Fatalf("upstream called %d times, want 2 (never stored)", calls.Load())
			}
		})
	}
}

func TestTagCacheUnsafeMethodInvalidatesTarget(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	var gets atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodGet {
			gets.Add(1)
			w.Header().Set("Cache-Control", "max-age=600")
		}
		_, err := io.WriteString(w, r.Method)
		return err
	})
	do(t, h, next, "GET", "http://example.com/item", nil)
	do(t, h, next, "GET", "http://example.com/item", nil)
	if gets.Load() != 1 {
		t.Fatalf("want one upstream GET before the POST, got %d", gets.Load())
	}
	do(t, h, next, "POST", "http://example.com/item", nil)
	do(t, h, next, "GET", "http://example.com/item", nil)
	if gets.Load() != 2 {
		t.Fatalf("GET after a successful POST was not refetched (upstream GETs %d)", gets.Load())
	}
}

func TestTagCacheForceStaticTTL(t *testing.T) {
	h, _ := newTestTagCache(t, &Handler{TTL: 3600_000_000_000})
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		_, err := io.WriteString(w, "static") // no cache headers at all
		return err
	})
	do(t, h, next, "GET", "http://example.com/s", nil)
	w := do(t, h, next, "GET", "http://example.com/s", nil)
	if calls.Load() != 1 || !strings.Contains(w.Header().Get("Cache-Status"), "; hit") {
		t.Fatalf("force-static: upstream calls %d, Cache-Status %q", calls.Load(), w.Header().Get("Cache-Status"))
	}
}

func TestTagCacheCoalescesConcurrentMisses(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	var calls atomic.Int32
	release := make(chan struct{})
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		_, err := io.WriteString(w, "shared")
		return err
	})
	var wg sync.WaitGroup
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Go(func() {
			bodies[i] = do(t, h, next, "GET", "http://example.com/hot", nil).Body.String()
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("20 concurrent misses made %d upstream requests, want 1", calls.Load())
	}
	for i, b := range bodies {
		if b != "shared" {
			t.Fatalf("request %d got %q", i, b)
		}
	}
}

// TestTagCacheRaceInvalidationsDuringFills interleaves invalidations with
// in-flight fills and proves design invariant 1: once an invalidation has
// been recorded, no response fetched before it is served from the cache.
// Run it with -race (.ci/run does).
func TestTagCacheRaceInvalidationsDuringFills(t *testing.T) {
	h, store := newTestTagCache(t, nil)
	var version atomic.Int64   // the origin's content version
	var published atomic.Int64 // the newest version whose invalidation is recorded
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		v := version.Load()
		// The fetch stays in flight for a while after reading the content,
		// so invalidations land in the middle of it.
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Cache-Tag", "content")
		_, err := io.WriteString(w, strconv.FormatInt(v, 10))
		return err
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(stop)
		for range 300 {
			v := version.Add(1) // the CMS changes the content...
			if _, err := store.Invalidate(t.Context(), []string{"content"}, nil, cache.ModeExpire); err != nil {
				t.Error(err)
				return
			}
			published.Store(v) // ...then its webhook call is acknowledged
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		}
	})
	var hits, violations atomic.Int64
	for reader := range 8 {
		wg.Go(func() {
			path := fmt.Sprintf("http://example.com/page/%d", reader%3)
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := published.Load()
				r := httptest.NewRequest("GET", path, nil)
				w := httptest.NewRecorder()
				if err := h.ServeHTTP(w, r, next); err != nil {
					t.Error(err)
					return
				}
				got, _ := strconv.ParseInt(w.Body.String(), 10, 64)
				if strings.Contains(w.Header().Get("Cache-Status"), "; hit") {
					hits.Add(1)
				}
				if got < floor {
					violations.Add(1)
					t.Errorf("served version %d (%s) after the invalidation of version %d was acknowledged",
						got, w.Header().Get("Cache-Status"), floor)
				}
			}
		})
	}
	wg.Wait()
	if hits.Load() == 0 {
		t.Fatal("no request was a hit: the test exercised nothing")
	}
	t.Logf("hits %d, violations %d", hits.Load(), violations.Load())
}

// BenchmarkServeHit measures the HIT path of the handler.
func BenchmarkServeHit(b *testing.B) {
	h, _ := newTestTagCache(b, nil)
	body := strings.Repeat("x", 1024)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Cache-Tag", "a,b,c")
		_, err := io.WriteString(w, body)
		return err
	})
	r := httptest.NewRequest("GET", "http://example.com/bench", nil)
	if err := h.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
		b.Fatal(err)
	}
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if err := h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
}

type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// TestTagCacheHitHeadersAreCopies proves a handler that edits response
// header values in place after tag_cache (such as `header` with a replace
// operation) cannot change the stored entry.
func TestTagCacheHitHeadersAreCopies(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("X-Version", "original")
		_, err := io.WriteString(w, "body")
		return err
	})
	do(t, h, next, "GET", "http://example.com/h", nil)
	hit := do(t, h, next, "GET", "http://example.com/h", nil)
	hit.Header()["X-Version"][0] = "edited"
	hit.Header()["Content-Length"][0] = "999"
	again := do(t, h, next, "GET", "http://example.com/h", nil)
	if got := again.Header().Get("X-Version"); got != "original" {
		t.Fatalf("stored header changed through a served response: %q", got)
	}
	if got := again.Header().Get("Content-Length"); got != "4" {
		t.Fatalf("stored Content-Length changed through a served response: %q", got)
	}
}

// TestTagCacheTagOverflowIsLoggedNotStored: a response with more tags than
// an entry may carry is not stored (the missing tags could never purge it),
// and the overflow is logged rather than dropped silently.
func TestTagCacheTagOverflowIsLoggedNotStored(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	h, _ := newTestTagCache(t, nil)
	h.logger = zap.New(core)
	tags := make([]string, 129)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", strings.Join(tags, ","))
		_, err := io.WriteString(w, "x")
		return err
	})
	do(t, h, next, "GET", "http://example.com/many", nil)
	do(t, h, next, "GET", "http://example.com/many", nil)
	if calls.Load() != 2 {
		t.Fatalf("a response with 129 tags was stored (upstream calls %d)", calls.Load())
	}
	if logs.FilterMessage("response not stored: its tags overflow the bounds").Len() != 2 {
		t.Fatalf("overflow not logged: %v", logs.All())
	}
	long := strings.Repeat("x", 257)
	next = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "ok "+long)
		_, err := io.WriteString(w, "x")
		return err
	})
	if cs := do(t, h, next, "GET", "http://example.com/long", nil).Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=") {
		t.Fatalf("Cache-Status %q", cs)
	}
	if do(t, h, next, "GET", "http://example.com/long", nil).Header().Get("Cache-Status") == "" ||
		logs.FilterMessage("response not stored: its tags overflow the bounds").Len() != 4 {
		t.Fatalf("a 257-byte tag was not refused and logged: %v", logs.All())
	}
}

// TestTagCacheDoesNotBufferWhatItWillNotStore: a response that cannot be
// stored (here an uncacheable event stream) streams through without the
// recorder keeping a copy of it.
func TestTagCacheDoesNotBufferWhatItWillNotStore(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	var kept int
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(200)
		for range 100 {
			if _, err := io.WriteString(w, strings.Repeat("d", 1024)); err != nil {
				return err
			}
		}
		kept = w.(*fillRecorder).body.Len()
		return nil
	})
	w := do(t, h, next, "GET", "http://example.com/events", nil)
	if w.Body.Len() != 100*1024 {
		t.Fatalf("client got %d bytes, want %d", w.Body.Len(), 100*1024)
	}
	if kept != 0 {
		t.Fatalf("the recorder kept %d bytes of a response it will not store", kept)
	}
}

// A request a handler before the cache marks as passed on to the app for
// its own purposes (revalidate_webhook's forward) goes through untouched:
// the app's answer is never stored, even under a forced TTL, or the next
// CMS call would get a cached "revalidated" while the app revalidated
// nothing. The same URL from a client is cached as usual.
func TestTagCachePassesMarkedRequestsThrough(t *testing.T) {
	h, _ := newTestTagCache(t, &Handler{TTL: caddy.Duration(time.Hour)})
	var calls atomic.Int32
	app := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, err := io.WriteString(w, `{"revalidated":true}`)
		return err
	})
	for range 2 {
		r := passthrough.Mark(httptest.NewRequest("GET", "http://example.com/api/revalidate?token=x&tag=a", nil), "revalidate_webhook")
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, app); err != nil {
			t.Fatal(err)
		}
		if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "detail=revalidate_webhook") {
			t.Fatalf("marked request: Cache-Status %q", cs)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("marked requests reached the app %d times, want 2", calls.Load())
	}
	do(t, h, app, "GET", "http://example.com/api/revalidate?token=x&tag=a", nil)
	if cs := do(t, h, app, "GET", "http://example.com/api/revalidate?token=x&tag=a", nil).Header().Get("Cache-Status"); !strings.HasPrefix(cs, "caddy-bff; hit") {
		t.Fatalf("a client request was not cached: %q", cs)
	}
}
