package tagcache

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/cache"
)

// nextOrigin answers like `next start` does for an ISR page (the headers
// recorded from Next.js 16.4.6), with x-nextjs-cache and Cache-Control as
// given; it counts its calls and records the Accept it was sent.
type nextOrigin struct {
	calls        atomic.Int32
	nextCache    string
	cacheControl string
	status       int
	vary         string // default: the Vary of Next's pages
	lastAccept   atomic.Value
}

func (o *nextOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	o.calls.Add(1)
	o.lastAccept.Store(r.Header.Get("Accept"))
	h := w.Header()
	vary := o.vary
	if vary == "" {
		vary = "rsc, next-router-state-tree, next-router-prefetch, next-router-segment-prefetch, Accept-Encoding"
	}
	h.Set("Vary", vary)
	if o.nextCache != "" {
		h.Set("X-Nextjs-Cache", o.nextCache)
	}
	h.Set("X-Nextjs-Prerender", "1")
	h.Set("Cache-Control", o.cacheControl)
	h.Set("Content-Type", "text/html; charset=utf-8")
	status := o.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, err := io.WriteString(w, "<!DOCTYPE html><p>page</p>")
	return err
}

func nextjsCache(t *testing.T) (*Handler, *cache.Store) {
	t.Helper()
	return newTestTagCache(t, &Handler{Nextjs: true})
}

// Next sends s-maxage=3600 on STALE answers too (served while it
// regenerates): the profile never stores them; without it they are stored
// as fresh for an hour (the reproduction).
func TestTagCacheNextjsNeverStoresStaleAnswers(t *testing.T) {
	for _, profile := range []bool{false, true} {
		h, _ := newTestTagCache(t, &Handler{Nextjs: profile})
		o := &nextOrigin{nextCache: "STALE", cacheControl: "s-maxage=3600, stale-while-revalidate=31532400"}
		next := caddyhttp.HandlerFunc(o.ServeHTTP)
		first := do(t, h, next, "GET", "http://example.com/posts", nil)
		do(t, h, next, "GET", "http://example.com/posts", nil)
		stored := o.calls.Load() == 1
		if profile && stored {
			t.Fatalf("nextjs profile stored a STALE answer: Cache-Status %q", first.Header().Get("Cache-Status"))
		}
		if profile && !strings.Contains(first.Header().Get("Cache-Status"), "detail=nextjs-stale") {
			t.Errorf("Cache-Status %q does not say why", first.Header().Get("Cache-Status"))
		}
		if !profile && !stored {
			t.Fatalf("without the profile the STALE answer should be stored (RFC 9111 reads it as fresh); the test no longer reproduces the defect")
		}
	}
}

// Next's stale-while-revalidate of a year is bounded to one second: a page
// stale for longer is revalidated before it is served. (Next's ISR pages
// carry s-maxage, which forbids serving them stale at all; the bound
// matters for max-age answers, such as a next.config headers() rule.)
func TestTagCacheNextjsBoundsInheritedStaleWhileRevalidate(t *testing.T) {
	h, _ := nextjsCache(t)
	o := &nextOrigin{nextCache: "MISS", cacheControl: "public, max-age=2, stale-while-revalidate=31535998"}
	next := caddyhttp.HandlerFunc(o.ServeHTTP)
	base := time.Now()
	h.now = func() time.Time { return base }
	do(t, h, next, "GET", "http://example.com/timed", nil)

	h.now = func() time.Time { return base.Add(2500 * time.Millisecond) }
	w := do(t, h, next, "GET", "http://example.com/timed", nil)
	if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "stale-while-revalidate") {
		t.Fatalf("half a second stale: Cache-Status %q, want a stale-while-revalidate hit", cs)
	}
	waitForCalls(t, o, 2) // the background refresh
	// The refresh stored a new entry at base+2.5s; 3.5 s later it is 1.5 s
	// stale: past the one-second bound.
	h.now = func() time.Time { return base.Add(6 * time.Second) }
	w = do(t, h, next, "GET", "http://example.com/timed", nil)
	if cs := w.Header().Get("Cache-Status"); strings.HasPrefix(cs, "caddy-bff; hit") {
		t.Fatalf("a page 1.5 s stale was served stale: Cache-Status %q", cs)
	}
}

func waitForCalls(t *testing.T, o *nextOrigin, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for o.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("origin called %d times, want %d", o.calls.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// An answer Next served from its own cache comes without Age: the profile
// takes it from when Next generated the page (the bridge's report), or,
// unknown, assumes the whole lifetime has passed.
func TestTagCacheNextjsAgeOfNextCachedAnswers(t *testing.T) {
	h, store := nextjsCache(t)
	o := &nextOrigin{nextCache: "HIT", cacheControl: "s-maxage=60, stale-while-revalidate=31535940"}
	next := caddyhttp.HandlerFunc(o.ServeHTTP)
	if err := store.LearnPage(context.Background(), cache.PageReport{Path: "/known", Tags: []string{"posts"}, Generated: time.Now().Add(-50 * time.Second).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	w := do(t, h, next, "GET", "http://example.com/known", nil)
	if age := w.Header().Get("Age"); age != "50" && age != "51" {
		t.Fatalf("Age of a page Next generated 50 s ago = %q", age)
	}
	base := time.Now()
	h.now = func() time.Time { return base.Add(5 * time.Second) }
	if cs := do(t, h, next, "GET", "http://example.com/known", nil).Header().Get("Cache-Status"); !strings.HasPrefix(cs, "caddy-bff; hit") || strings.Contains(cs, "stale") {
		t.Fatalf("5 s later (55 s old of 60): Cache-Status %q, want a fresh hit", cs)
	}
	h.now = func() time.Time { return base.Add(12 * time.Second) }
	if cs := do(t, h, next, "GET", "http://example.com/known", nil).Header().Get("Cache-Status"); strings.HasPrefix(cs, "caddy-bff; hit") && !strings.Contains(cs, "stale-while-revalidate") {
		t.Fatalf("12 s later (62 s old of 60) served as fresh: Cache-Status %q", cs)
	}

	h.now = time.Now
	w = do(t, h, next, "GET", "http://example.com/unknown", nil)
	if age := w.Header().Get("Age"); age != "60" {
		t.Fatalf("Age of a page of unknown generation = %q, want the whole lifetime (60)", age)
	}
}

// Draft Mode and Preview Mode requests bypass the cache both ways.
func TestTagCacheNextjsDraftModeBypasses(t *testing.T) {
	h, _ := nextjsCache(t)
	o := &nextOrigin{nextCache: "MISS", cacheControl: "s-maxage=3600"}
	next := caddyhttp.HandlerFunc(o.ServeHTTP)
	do(t, h, next, "GET", "http://example.com/posts", nil) // published, stored
	for _, cookie := range []string{"__prerender_bypass=abc", "__next_preview_data=xyz; __prerender_bypass=abc"} {
		w := do(t, h, next, "GET", "http://example.com/posts", http.Header{"Cookie": {cookie}})
		if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "detail=draft-mode") {
			t.Fatalf("Draft Mode request answered with Cache-Status %q", cs)
		}
	}
	if got := o.calls.Load(); got != 3 {
		t.Fatalf("origin calls = %d, want 3 (one published fill, two drafts)", got)
	}
}

// The 307 Next sends for an `_rsc` request with a stale cache-busting
// parameter is never stored, even when something made it cacheable.
func TestTagCacheNextjsDoesNotStoreRSCRedirects(t *testing.T) {
	h, _ := nextjsCache(t)
	o := &nextOrigin{cacheControl: "public, max-age=60", status: http.StatusTemporaryRedirect}
	next := caddyhttp.HandlerFunc(o.ServeHTTP)
	for i := 0; i < 2; i++ {
		do(t, h, next, "GET", "http://example.com/posts?_rsc=stale", http.Header{"Rsc": {"1"}})
	}
	if got := o.calls.Load(); got != 2 {
		t.Fatalf("the _rsc redirect was stored: %d origin calls for 2 requests", got)
	}
}

// Browsers' Accept values for /_next/image reduce to what Next's optimizer
// reads, so they share entries, and the origin gets the reduced value.
func TestTagCacheNextjsImageAcceptIsNormalised(t *testing.T) {
	h, _ := nextjsCache(t)
	o := &nextOrigin{cacheControl: "public, max-age=60, must-revalidate", vary: "Accept"}
	next := caddyhttp.HandlerFunc(o.ServeHTTP)
	url := "http://example.com/_next/image?url=%2Fpic.png&w=32&q=75"
	for _, accept := range []string{
		"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
		"image/avif,image/webp,*/*",
	} {
		do(t, h, next, "GET", url, http.Header{"Accept": {accept}})
	}
	if got := o.calls.Load(); got != 1 {
		t.Fatalf("two AVIF-capable browsers made %d origin calls, want 1", got)
	}
	if got := o.lastAccept.Load(); got != "image/avif,image/webp" {
		t.Fatalf("origin got Accept %q", got)
	}
	do(t, h, next, "GET", url, http.Header{"Accept": {"image/webp,*/*"}})
	do(t, h, next, "GET", url, http.Header{"Accept": {"image/png,*/*;q=0.8"}})
	if got := o.calls.Load(); got != 3 {
		t.Fatalf("WebP-only and neither: %d origin calls in all, want 3", got)
	}
	do(t, h, next, "GET", url, http.Header{"Accept": {"image/webp;q=0.9,image/avif;q=0.5"}})
	if got := o.lastAccept.Load(); got != "image/avif;q=0.5,image/webp;q=0.9" {
		t.Fatalf("weights lost: origin got Accept %q", got)
	}
}

// Pages carry the root layout's implicit tag; /_next/ assets do not.
func TestTagCacheNextjsRootLayoutTagsPagesOnly(t *testing.T) {
	h, store := nextjsCache(t)
	o := &nextOrigin{cacheControl: "public, max-age=31536000, immutable"}
	next := caddyhttp.HandlerFunc(o.ServeHTTP)
	do(t, h, next, "GET", "http://example.com/posts", nil)
	do(t, h, next, "GET", "http://example.com/_next/static/chunks/app.js", nil)
	if _, err := store.Invalidate(context.Background(), []string{cache.NextRootLayoutTag}, nil, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	do(t, h, next, "GET", "http://example.com/posts", nil)
	if got := o.calls.Load(); got != 3 {
		t.Fatalf("revalidatePath('/', 'layout') did not reach the page: %d origin calls", got)
	}
	do(t, h, next, "GET", "http://example.com/_next/static/chunks/app.js", nil)
	if got := o.calls.Load(); got != 3 {
		t.Fatalf("a static asset was purged with the pages: %d origin calls", got)
	}
}
