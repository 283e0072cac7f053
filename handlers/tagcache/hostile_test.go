package tagcache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/standing"
)

// serveRecovering runs the handler as net/http would: a panic with
// http.ErrAbortHandler (what reverse_proxy raises when the client goes
// away mid-body) ends the request without failing the test.
func serveRecovering(h *Handler, next caddyhttp.Handler, r *http.Request) (w *httptest.ResponseRecorder, panicked any) {
	w = httptest.NewRecorder()
	defer func() { panicked = recover() }()
	_ = h.ServeHTTP(w, r, next)
	return w, nil
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Issue 10.1: an origin that breaks off during a background refresh makes
// reverse_proxy panic inside the refresh goroutine; nothing above it would
// recover, and the whole process would exit.
func TestTagCacheBackgroundRefreshPanicIsContained(t *testing.T) {
	h, store := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if calls.Add(1) > 1 {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "partial")
			panic(http.ErrAbortHandler) // the origin broke off mid-body
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600")
		w.Header().Set("Cache-Tag", "posts")
		_, err := io.WriteString(w, "v1")
		return err
	})
	do(t, h, next, "GET", "http://example.com/p", nil)
	base := time.Now()
	h.now = func() time.Time { return base.Add(5 * time.Second) }

	// stale-while-revalidate: served stale, refreshed behind.
	if w := do(t, h, next, "GET", "http://example.com/p", nil); w.Body.String() != "v1" {
		t.Fatalf("stale answer %q, want v1", w.Body.String())
	}
	waitFor(t, "the failed refresh to be counted", func() bool { return store.Stats().RefreshFailures == 1 })
	waitFor(t, "the refresh's flight to end", func() bool { return store.Flights() == 0 })

	// A soft purge starts another refresh, which fails the same way.
	if _, err := store.Invalidate(t.Context(), []string{"posts"}, nil, cache.ModeStale); err != nil {
		t.Fatal(err)
	}
	if w := do(t, h, next, "GET", "http://example.com/p", nil); !strings.Contains(w.Header().Get("Cache-Status"), "soft-invalidated") {
		t.Fatalf("after a soft purge: %q", w.Header().Get("Cache-Status"))
	}
	waitFor(t, "the second failed refresh", func() bool { return store.Stats().RefreshFailures == 2 })
	waitFor(t, "the flights to end", func() bool { return store.Flights() == 0 })
	if calls.Load() != 3 {
		t.Fatalf("upstream calls %d, want 3", calls.Load())
	}
}

// Issue 10.2: a fill whose client resets mid-download (reverse_proxy
// panics with http.ErrAbortHandler) must still end its flight, or the next
// request for the URL waits the whole lock timeout and coalescing is gone.
func TestTagCacheFlightEndsWhenClientResets(t *testing.T) {
	h, store := newTestTagCache(t, &Handler{LockTimeout: 30_000_000_000})
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		n := calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		if n == 1 {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "half a body")
			panic(http.ErrAbortHandler) // writing to the client failed
		}
		_, err := io.WriteString(w, "whole")
		return err
	})
	if _, p := serveRecovering(h, next, httptest.NewRequest("GET", "http://example.com/big", nil)); p != http.ErrAbortHandler {
		t.Fatalf("the abort did not propagate as net/http expects: %v", p)
	}
	if n := store.Flights(); n != 0 {
		t.Fatalf("%d flight(s) left behind by the reset client", n)
	}
	done := make(chan string, 1)
	go func() {
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/big", nil), next)
		done <- w.Body.String()
	}()
	select {
	case body := <-done:
		if body != "whole" {
			t.Fatalf("next request got %q", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the next request waited on the dead flight")
	}
}

// Issue 10.2: the in-flight map is bounded whatever the requests.
func TestStoreFlightsAreBounded(t *testing.T) {
	_, store := newTestTagCache(t, nil)
	long := strings.Repeat("q", 4096)
	var flights []*cache.Flight
	for i := 0; i < 20000; i++ {
		f, leader := store.Join(fmt.Sprintf("http://example.com/%d?%s", i, long))
		if !leader {
			t.Fatalf("unique key %d joined someone else's flight", i)
		}
		flights = append(flights, f)
	}
	if n := store.Flights(); n == 0 || n*4096 > 17<<20 {
		t.Fatalf("%d flights of 4 kB keys held: the map is not bounded in bytes", n)
	}
	for i, f := range flights {
		store.Finish(fmt.Sprintf("http://example.com/%d?%s", i, long), f, nil)
	}
	if n := store.Flights(); n != 0 {
		t.Fatalf("%d flights left after every leader finished", n)
	}
}

// Issue 10.5: headers that a handler before the cache set for one request
// (here a reflected CORS origin) are not frozen into the entry.
func TestTagCacheHeadersSetBeforeCacheAreNotStored(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Add("Vary", "Accept-Encoding")
		w.Header().Add("Access-Control-Allow-Origin", "*")
		_, err := io.WriteString(w, "page")
		return err
	})
	request := func(origin string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		// What `header Access-Control-Allow-Origin {http.request.header.Origin}`
		// before tag_cache does: set on the response before the cache runs.
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
		r := httptest.NewRequest("GET", "http://example.com/cors", nil)
		r.Header.Set("Origin", origin)
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		return w
	}
	first := request("https://attacker.example")
	if got := first.Header().Values("Access-Control-Allow-Origin"); len(got) == 0 || got[0] != "https://attacker.example" {
		t.Fatalf("miss: ACAO %v", got)
	}
	second := request("https://victim.example")
	if !strings.Contains(second.Header().Get("Cache-Status"), "; hit") || calls.Load() != 1 {
		t.Fatalf("second request was no hit: %q (upstream calls %d)", second.Header().Get("Cache-Status"), calls.Load())
	}
	if got := second.Header().Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://victim.example" {
		t.Fatalf("hit: ACAO %v, want only this request's origin (set before the cache, it wins over the stored one)", got)
	}
	if got := strings.Join(second.Header().Values("Vary"), ","); got != "Origin,Accept-Encoding" {
		t.Fatalf("hit Vary %q, want this request's Origin then the stored Accept-Encoding", got)
	}
}

// Issue 10.6: a GET with a body must neither be stored under the plain
// GET's key nor be answered from the store.
func TestTagCacheRequestsWithBodyBypass(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "secret-tag")
		_, err := fmt.Fprintf(w, "answer to %q", body)
		return err
	})
	poison := httptest.NewRequest("GET", "http://example.com/q", strings.NewReader("attacker's choice"))
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, poison, next); err != nil {
		t.Fatal(err)
	}
	if w.Header().Get("Cache-Tag") != "" {
		t.Fatal("tag header leaked on a request with a body")
	}
	plain := do(t, h, next, "GET", "http://example.com/q", nil)
	if plain.Body.String() != `answer to ""` {
		t.Fatalf("plain GET was served the body-chosen answer %q", plain.Body.String())
	}
	chunked := httptest.NewRequest("GET", "http://example.com/q", strings.NewReader("x"))
	chunked.ContentLength, chunked.TransferEncoding = -1, []string{"chunked"}
	w = httptest.NewRecorder()
	if err := h.ServeHTTP(w, chunked, next); err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != `answer to "x"` {
		t.Fatalf("a GET with a chunked body was answered from the store: %q", w.Body.String())
	}
	if calls.Load() != 3 {
		t.Fatalf("upstream calls %d, want 3", calls.Load())
	}
}

// Issue 10.7: every path through the handler strips the tag headers; only a
// genuine upgrade bypasses the cache.
func TestTagCacheTagHeadersNeverLeak(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Tag", "user-42,private-path")
		w.Header().Set("X-Next-Cache-Tags", "_N_T_/account/42")
		w.Header().Set("Surrogate-Key", "user-42")
		w.Header().Set("Cache-Control", "max-age=60")
		_, err := io.WriteString(w, "x")
		return err
	})
	cases := []struct {
		method string
		header http.Header
	}{
		{"GET", http.Header{"Upgrade": {"x"}}},
		{"GET", http.Header{"Upgrade": {"websocket"}, "Connection": {"keep-alive, Upgrade"}}},
		{"OPTIONS", nil},
		{"PROPFIND", nil},
		{"TRACE", nil},
		{"POST", nil},
		{"GET", nil},
		{"HEAD", nil},
	}
	for _, c := range cases {
		w := do(t, h, next, c.method, "http://example.com/leak", c.header)
		for _, name := range []string{"Cache-Tag", "X-Next-Cache-Tags", "Surrogate-Key"} {
			if v := w.Header().Get(name); v != "" {
				t.Errorf("%s %v: %s leaked: %q", c.method, c.header, name, v)
			}
		}
	}
	// Upgrade without Connection: upgrade is an ordinary GET: cached.
	w := do(t, h, next, "GET", "http://example.com/leak", http.Header{"Upgrade": {"x"}})
	if !strings.Contains(w.Header().Get("Cache-Status"), "; hit") {
		t.Fatalf("a fake upgrade bypassed the cache: %q", w.Header().Get("Cache-Status"))
	}
}

// Issue 10.8: every 2xx unsafe request to a stored URI records its uri:
// tag; with 15 kB query strings each record used to keep the whole URI.
func TestTagCacheTagClockBytesAreBounded(t *testing.T) {
	h, store := newTestTagCache(t, nil)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "max-age=600")
		_, err := io.WriteString(w, "x")
		return err
	})
	query := strings.Repeat("a", 15000)
	const cycles = 3000
	for i := 0; i < cycles; i++ {
		target := fmt.Sprintf("http://example.com/item?%d&%s", i, query)
		do(t, h, next, "GET", target, nil)
		do(t, h, next, "POST", target, nil)
	}
	st := store.Stats()
	if st.TagRecords < cycles {
		t.Fatalf("only %d tag records for %d invalidated URIs: the test proves nothing", st.TagRecords, cycles)
	}
	t.Logf("%d GET+POST cycles with 15 kB queries: %d tag records weighing %d bytes (%d each)",
		cycles, st.TagRecords, st.TagRecordBytes, st.TagRecordBytes/int64(st.TagRecords))
	if perRecord := st.TagRecordBytes / int64(st.TagRecords); perRecord > 64+200 {
		t.Fatalf("a tag record weighs %d bytes: long keys are not hashed", perRecord)
	}
	// And the hashed records still invalidate: the last URI was refetched.
	target := fmt.Sprintf("http://example.com/item?%d&%s", cycles-1, query)
	if cs := do(t, h, next, "GET", target, nil).Header().Get("Cache-Status"); !strings.Contains(cs, "detail=invalidated") {
		t.Fatalf("GET after POST: %q, want the hashed uri: record to have expired the entry", cs)
	}
}

// Issue 10.3: with cookie sessions, RFC 9111's Authorization rules apply.
// Alice's page (max-age, or only Last-Modified) is never served to Bob.
func TestTagCacheCookieSessionsGetAuthorizationRules(t *testing.T) {
	release := standing.Register(standing.Credentials{Cookies: []string{"_token"}})
	defer release()
	for name, cacheHeaders := range map[string]http.Header{
		"max-age":       {"Cache-Control": {"max-age=60"}},
		"heuristic":     {"Last-Modified": {time.Now().Add(-48 * time.Hour).UTC().Format(http.TimeFormat)}},
		"public-but-lm": {"Cache-Control": {"public"}, "Last-Modified": {time.Now().Add(-48 * time.Hour).UTC().Format(http.TimeFormat)}},
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := newTestTagCache(t, nil)
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				for k, vs := range cacheHeaders {
					w.Header()[k] = vs
				}
				c, _ := r.Cookie("_token")
				who := "anonymous"
				if c != nil {
					who = c.Value
				}
				_, err := io.WriteString(w, "page of "+who)
				return err
			})
			if got := do(t, h, next, "GET", "http://example.com/me", http.Header{"Cookie": {"_token=alice"}}).Body.String(); got != "page of alice" {
				t.Fatalf("alice got %q", got)
			}
			if got := do(t, h, next, "GET", "http://example.com/me", http.Header{"Cookie": {"_token=bob"}}).Body.String(); got != "page of bob" {
				t.Fatalf("bob got %q", got)
			}
			if got := do(t, h, next, "GET", "http://example.com/me", nil).Body.String(); got != "page of anonymous" {
				t.Fatalf("an anonymous visitor got %q", got)
			}
		})
	}

	// An origin that says a page is shared (s-maxage) is believed, but what
	// was stored for a credentialed request never reaches an anonymous one.
	h, _ := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		w.Header().Set("Cache-Control", "s-maxage=60")
		_, err := io.WriteString(w, "members' page")
		return err
	})
	do(t, h, next, "GET", "http://example.com/members", http.Header{"Cookie": {"_token=alice"}})
	if w := do(t, h, next, "GET", "http://example.com/members", http.Header{"Cookie": {"_token=bob"}}); !strings.Contains(w.Header().Get("Cache-Status"), "; hit") {
		t.Fatalf("s-maxage page for a second member: %q, want a hit", w.Header().Get("Cache-Status"))
	}
	if w := do(t, h, next, "GET", "http://example.com/members", nil); strings.Contains(w.Header().Get("Cache-Status"), "; hit") {
		t.Fatalf("a page stored for a session was served to an anonymous visitor")
	}
	if calls.Load() != 2 {
		t.Fatalf("upstream calls %d, want 2", calls.Load())
	}
}

// Issue 10.4: what a gate after the cache let through is not stored, so a
// later request that never passes the gate cannot get it from the cache.
func TestTagCacheNeverOpensAGateAfterIt(t *testing.T) {
	h, _ := newTestTagCache(t, nil)
	gate := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if c, err := r.Cookie("_token"); err != nil || c.Value != "alice" {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			return nil
		}
		standing.Admit(r, "auth_proxy")
		w.Header().Set("Cache-Control", "max-age=60")
		_, err := io.WriteString(w, "alice's dashboard")
		return err
	})
	// The gate marks the request in Caddy's request variables, which need a
	// Caddy request context.
	caddyRequest := func(cookie string) *http.Request {
		r := httptest.NewRequest("GET", "http://example.com/app/dashboard", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		return withCaddyVars(r)
	}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, caddyRequest("_token=alice"), gate); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Header().Get("Cache-Status"), "detail=behind-gate") {
		t.Fatalf("alice's page: Cache-Status %q, want behind-gate", w.Header().Get("Cache-Status"))
	}
	w = httptest.NewRecorder()
	if err := h.ServeHTTP(w, caddyRequest(""), gate); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous visitor: %d %q, want the gate's 401", w.Code, w.Body.String())
	}
}

// withCaddyVars gives r the request-variables map a Caddy server gives
// every request.
func withCaddyVars(r *http.Request) *http.Request {
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{})
	return r.WithContext(ctx)
}

// Tags and freshness set by a `header` directive before the cache still
// apply to the entry (they describe the response), though the entry does
// not keep the header fields themselves.
func TestTagCacheTagsSetBeforeCacheStillTagTheEntry(t *testing.T) {
	h, store := newTestTagCache(t, nil)
	var calls atomic.Int32
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		_, err := fmt.Fprintf(w, "render %d", calls.Load())
		return err
	})
	request := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Cache-Tag", "posts")
		if err := h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/posts", nil), next); err != nil {
			t.Fatal(err)
		}
		return w
	}
	request()
	if w := request(); !strings.Contains(w.Header().Get("Cache-Status"), "; hit") || w.Header().Get("Cache-Control") != "public, max-age=600" {
		t.Fatalf("second request: %q, Cache-Control %q", w.Header().Get("Cache-Status"), w.Header().Get("Cache-Control"))
	}
	if _, err := store.Invalidate(t.Context(), []string{"posts"}, nil, cache.ModeExpire); err != nil {
		t.Fatal(err)
	}
	if w := request(); w.Body.String() != "render 2" {
		t.Fatalf("after purging the tag set before the cache: %q (%s)", w.Body.String(), w.Header().Get("Cache-Status"))
	}
}

// Issue 10.9: an Age that is non-numeric, negative or fractional is invalid
// and ignored (upstream suite: age-parse-nonnumeric, -negative, -float);
// one past 2^31 - 1 makes the response stale; the first member counts.
func TestParseAgeIgnoresInvalidValues(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  time.Duration
	}{
		{[]string{"abc"}, 0},
		{[]string{"-7200"}, 0},
		{[]string{"7200.0"}, 0},
		{[]string{""}, 0},
		{[]string{"60"}, time.Minute},
		{[]string{"7200, 0"}, 2 * time.Hour},
		{[]string{"0, 7200"}, 0},
		{[]string{"7200", "0"}, 2 * time.Hour},
		{[]string{"2147483648"}, veryOld},
		{[]string{"99999999999999999999"}, veryOld},
	} {
		if got := parseAge(http.Header{"Age": c.lines}); got != c.want {
			t.Errorf("Age %q: %v, want %v", c.lines, got, c.want)
		}
	}
}
