package tagcache

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// statusOrigin answers every request with the headers and status it is
// set to, counting the calls; an err makes it fail before writing.
type statusOrigin struct {
	calls  atomic.Int32
	header atomic.Value // http.Header
	status atomic.Int32
	err    atomic.Bool
}

func newStatusOrigin(header http.Header) *statusOrigin {
	o := &statusOrigin{}
	o.set(http.StatusOK, header)
	return o
}

func (o *statusOrigin) set(status int, header http.Header) {
	o.status.Store(int32(status))
	o.header.Store(header)
}

func (o *statusOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	o.calls.Add(1)
	if o.err.Load() {
		return errors.New("origin unreachable")
	}
	status := int(o.status.Load())
	for k, vs := range o.header.Load().(http.Header) {
		w.Header()[k] = vs
	}
	if status == http.StatusOK && r.Header.Get("If-None-Match") != "" && r.Header.Get("If-None-Match") == w.Header().Get("ETag") {
		status = http.StatusNotModified
	}
	w.WriteHeader(status)
	if status == http.StatusNotModified {
		return nil
	}
	_, err := io.WriteString(w, "body "+strconv.Itoa(int(o.calls.Load())))
	return err
}

// testClock is a settable clock for the handler.
type testClock struct{ unix atomic.Int64 }

func (c *testClock) now() time.Time                     { return time.Unix(c.unix.Load(), 0) }
func (c *testClock) advance(d time.Duration)            { c.unix.Add(int64(d / time.Second)) }
func newTestClock() *testClock                          { c := &testClock{}; c.unix.Store(time.Now().Unix()); return c }
func cacheStatusOf(w *httptest.ResponseRecorder) string { return w.Header().Get("Cache-Status") }

// TestCacheStatusIsRenderedExactly pins the whole Cache-Status member for
// each way a request can go through the cache: the values README.md shows
// and clients parse must not drift.
func TestCacheStatusIsRenderedExactly(t *testing.T) {
	const target = "http://example.com/p"
	maxAge60 := http.Header{"Cache-Control": {"max-age=60"}}
	for _, tc := range []struct {
		name string
		// config adjusts the handler before provisioning.
		config func(*Handler)
		// run drives the handler and returns the response whose
		// Cache-Status is checked.
		run  func(t *testing.T, h *Handler, store *cache.Store, clock *testClock) *httptest.ResponseRecorder
		want string
	}{
		{
			name: "miss stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "GET", target, nil)
			},
			want: "caddy-bff; fwd=uri-miss; ttl=60; stored",
		},
		{
			name: "miss not stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(http.Header{"Cache-Control": {"no-store"}}), "GET", target, nil)
			},
			want: "caddy-bff; fwd=uri-miss; detail=no-store",
		},
		{
			name: "fresh hit",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				clock.advance(5 * time.Second)
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; hit; ttl=55",
		},
		{
			name:   "fresh hit with debug key",
			config: func(h *Handler) { h.Debug = true },
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				return do(t, h, o, "GET", target, nil)
			},
			want: `caddy-bff; hit; ttl=60; key="http://example.com/p"`,
		},
		{
			name:   "cache name",
			config: func(h *Handler) { h.CacheName = "edge" },
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "GET", target, nil)
			},
			want: "edge; fwd=uri-miss; ttl=60; stored",
		},
		{
			name: "invalidated then stored",
			run: func(t *testing.T, h *Handler, store *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				if _, err := store.Invalidate(t.Context(), nil, []string{"/p"}, cache.ModeExpire); err != nil {
					t.Fatal(err)
				}
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=miss; detail=invalidated; ttl=60; stored",
		},
		{
			name: "invalidated then not stored",
			run: func(t *testing.T, h *Handler, store *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				if _, err := store.Invalidate(t.Context(), nil, []string{"/p"}, cache.ModeExpire); err != nil {
					t.Fatal(err)
				}
				o.set(http.StatusOK, http.Header{"Cache-Control": {"no-store"}})
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=miss; detail=invalidated",
		},
		{
			name: "vary miss",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Language"}})
				do(t, h, o, "GET", target, http.Header{"Accept-Language": {"en"}})
				return do(t, h, o, "GET", target, http.Header{"Accept-Language": {"fr"}})
			},
			want: "caddy-bff; fwd=vary-miss; ttl=60; stored",
		},
		{
			name: "request no-cache, nothing stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "GET", target, http.Header{"Cache-Control": {"no-cache"}})
			},
			want: "caddy-bff; fwd=request; ttl=60; stored",
		},
		{
			name: "request no-cache, entry stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				return do(t, h, o, "GET", target, http.Header{"Pragma": {"no-cache"}})
			},
			want: "caddy-bff; fwd=stale; fwd-status=200; ttl=60; stored",
		},
		{
			name: "max-stale",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				clock.advance(65 * time.Second)
				return do(t, h, o, "GET", target, http.Header{"Cache-Control": {"max-stale=10"}})
			},
			want: "caddy-bff; hit; ttl=-5; detail=max-stale",
		},
		{
			name: "stale-while-revalidate",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(http.Header{"Cache-Control": {"max-age=60, stale-while-revalidate=30"}})
				do(t, h, o, "GET", target, nil)
				clock.advance(70 * time.Second)
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; hit; ttl=-10; detail=stale-while-revalidate",
		},
		{
			name: "soft invalidated",
			run: func(t *testing.T, h *Handler, store *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				if _, err := store.Invalidate(t.Context(), nil, []string{"/p"}, cache.ModeStale); err != nil {
					t.Fatal(err)
				}
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; hit; ttl=60; detail=soft-invalidated",
		},
		{
			name: "only-if-cached, nothing stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "GET", target, http.Header{"Cache-Control": {"only-if-cached"}})
			},
			want: "caddy-bff; fwd=miss; detail=only-if-cached",
		},
		{
			name: "only-if-cached, entry stale",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				clock.advance(61 * time.Second)
				return do(t, h, o, "GET", target, http.Header{"Cache-Control": {"only-if-cached"}})
			},
			want: "caddy-bff; fwd=miss; detail=only-if-cached",
		},
		{
			name: "revalidated by a 304 and stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(http.Header{"Cache-Control": {"max-age=60"}, "Etag": {`"v1"`}})
				do(t, h, o, "GET", target, nil)
				clock.advance(61 * time.Second)
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=stale; fwd-status=304; ttl=60; stored",
		},
		{
			name: "revalidated by a 304 not stored",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(http.Header{"Cache-Control": {"max-age=60"}, "Etag": {`"v1"`}})
				do(t, h, o, "GET", target, nil)
				clock.advance(61 * time.Second)
				o.set(http.StatusOK, http.Header{"Cache-Control": {"no-store"}, "Etag": {`"v1"`}})
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=stale; fwd-status=304",
		},
		{
			name: "revalidated by a new response",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(http.Header{"Cache-Control": {"max-age=60, must-revalidate"}})
				do(t, h, o, "GET", target, nil)
				clock.advance(61 * time.Second)
				o.set(http.StatusOK, http.Header{"Cache-Control": {"private"}})
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=stale; fwd-status=200; detail=private",
		},
		{
			name: "stale-if-error on a 500",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(http.Header{"Cache-Control": {"max-age=60, stale-if-error=60"}})
				do(t, h, o, "GET", target, nil)
				clock.advance(65 * time.Second)
				o.set(http.StatusInternalServerError, http.Header{})
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=stale; fwd-status=500; ttl=-5; detail=stale-if-error",
		},
		{
			name: "stale-if-error when the origin is unreachable",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				clock.advance(65 * time.Second)
				o.err.Store(true)
				return do(t, h, o, "GET", target, nil)
			},
			want: "caddy-bff; fwd=stale; fwd-status=502; ttl=-5; detail=stale-if-error",
		},
		{
			name: "HEAD revalidation",
			run: func(t *testing.T, h *Handler, _ *cache.Store, clock *testClock) *httptest.ResponseRecorder {
				o := newStatusOrigin(maxAge60)
				do(t, h, o, "GET", target, nil)
				clock.advance(61 * time.Second)
				return do(t, h, o, "HEAD", target, nil)
			},
			want: "caddy-bff; fwd=stale; detail=method",
		},
		{
			name: "bypass with a detail",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "GET", target, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}})
			},
			want: "caddy-bff; fwd=bypass; detail=upgrade",
		},
		{
			name: "bypass of a safe method",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "OPTIONS", target, nil)
			},
			want: "caddy-bff; fwd=bypass",
		},
		{
			name:   "bypass with debug key",
			config: func(h *Handler) { h.Debug = true },
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(maxAge60), "OPTIONS", target, nil)
			},
			want: `caddy-bff; fwd=bypass; key=""`,
		},
		{
			name: "unsafe method",
			run: func(t *testing.T, h *Handler, _ *cache.Store, _ *testClock) *httptest.ResponseRecorder {
				return do(t, h, newStatusOrigin(http.Header{}), "POST", target, nil)
			},
			want: "caddy-bff; fwd=method",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{}
			if tc.config != nil {
				tc.config(h)
			}
			h, store := newTestTagCache(t, h)
			clock := newTestClock()
			h.now = clock.now
			if got := cacheStatusOf(tc.run(t, h, store, clock)); got != tc.want {
				t.Fatalf("Cache-Status = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCacheStatusOfCoalescedWaiters pins the Cache-Status of requests that
// waited for another request's fill: a coalesced hit, or a plain hit when
// the fill ended before they joined it.
func TestCacheStatusOfCoalescedWaiters(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	clock := newTestClock()
	h.now = clock.now
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		_, err := io.WriteString(w, "shared")
		return err
	})
	leader := make(chan string)
	go func() { leader <- cacheStatusOf(do(t, h, next, "GET", "http://example.com/hot", nil)) }()
	<-started
	waiters := make(chan string, 4)
	for range cap(waiters) {
		go func() { waiters <- cacheStatusOf(do(t, h, next, "GET", "http://example.com/hot", nil)) }()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	if got := <-leader; got != "caddy-bff; fwd=uri-miss; ttl=60; stored" {
		t.Fatalf("leader: Cache-Status = %q", got)
	}
	for range cap(waiters) {
		if got := <-waiters; got != "caddy-bff; hit; ttl=60; detail=coalesced" && got != "caddy-bff; hit; ttl=60" {
			t.Fatalf("waiter: Cache-Status = %q, want a coalesced hit", got)
		}
	}
}

func TestCacheStatusStringOrderAndOneDetail(t *testing.T) {
	for _, tc := range []struct {
		status cacheStatus
		want   string
	}{
		{cacheStatus{cache: "c", hit: true, ttl: 59 * time.Second, hasTTL: true}, "c; hit; ttl=59"},
		{cacheStatus{cache: "c", hit: true, ttl: -1500 * time.Millisecond, hasTTL: true, detail: "max-stale"}, "c; hit; ttl=-1; detail=max-stale"},
		{cacheStatus{cache: "c", fwd: cache.FwdURIMiss}.storedWith(time.Minute), "c; fwd=uri-miss; ttl=60; stored"},
		{cacheStatus{cache: "c", fwd: cache.FwdMiss, fwdDetail: "invalidated", detail: "no-store"}, "c; fwd=miss; detail=invalidated"},
		{cacheStatus{cache: "c", fwd: cache.FwdMiss, fwdDetail: "invalidated"}.storedWith(time.Minute), "c; fwd=miss; detail=invalidated; ttl=60; stored"},
		{cacheStatus{cache: "c", fwd: cache.FwdStale, fwdStatus: 503, ttl: -2 * time.Second, hasTTL: true, detail: "stale-if-error"}, "c; fwd=stale; fwd-status=503; ttl=-2; detail=stale-if-error"},
		{cacheStatus{cache: "c", fwd: cache.FwdBypass, showKey: true}, `c; fwd=bypass; key=""`},
		{cacheStatus{cache: "c", hit: true, hasTTL: true, key: "a\"b\\c\x01", showKey: true}, `c; hit; ttl=0; key="a\"b\\c "`},
	} {
		if got := tc.status.String(); got != tc.want {
			t.Errorf("%+v: String() = %q, want %q", tc.status, got, tc.want)
		}
	}
}
