package integration

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// startTestOrigin starts an origin server answering with handler.
func startTestOrigin(t testing.TB, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// TestTagCacheNoCrossUserLeakBehindAuthProxy is issue 10.3 with the
// default order (auth_proxy, then tag_cache, then reverse_proxy): an origin
// answering Alice's page with max-age=60, or with only Last-Modified, must
// never have it served to Bob. An origin that varies on the identity header
// forward_claim sets gets per-user entries.
func TestTagCacheNoCrossUserLeakBehindAuthProxy(t *testing.T) {
	lastModified := time.Now().Add(-72 * time.Hour).UTC().Format(http.TimeFormat)
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/max-age":
			w.Header().Set("Cache-Control", "max-age=60")
		case "/heuristic":
			w.Header().Set("Last-Modified", lastModified)
		case "/vary":
			w.Header().Set("Cache-Control", "s-maxage=60")
			w.Header().Set("Vary", "X-User-Id")
		}
		fmt.Fprintf(w, "page of %s at %d", r.Header.Get("X-User-Id"), time.Now().UnixNano())
	})
	_, base := loadAuthConfig(t, `:{PORT} {
	auth_proxy {
		jwt {
			secret {env.JWT_SECRET}
		}
		forward_claim sub X-User-Id
	}
	tag_cache
	reverse_proxy `+strings.TrimPrefix(origin.URL, "http://")+`
}`)
	client := testharness.NoRedirectClient()
	alice, bob := withCookie("_token", mintToken(t, tokenSpec{sub: "alice"})), withCookie("_token", mintToken(t, tokenSpec{sub: "bob"}))
	for _, path := range []string{"/max-age", "/heuristic"} {
		if r := send(t, client, "GET", base+path, alice); !strings.HasPrefix(r.body, "page of alice") {
			t.Fatalf("%s alice: %d %q", path, r.status, r.body)
		}
		if r := send(t, client, "GET", base+path, bob); !strings.HasPrefix(r.body, "page of bob") {
			t.Fatalf("%s: bob was served %q (Cache-Status %q)", path, r.body, r.header.Get("Cache-Status"))
		}
	}
	first := send(t, client, "GET", base+"/vary", alice)
	again := send(t, client, "GET", base+"/vary", alice)
	if again.body != first.body || !strings.Contains(again.header.Get("Cache-Status"), "; hit") {
		t.Fatalf("Vary: X-User-Id page for alice twice: %q then %q (%s)", first.body, again.body, again.header.Get("Cache-Status"))
	}
	if r := send(t, client, "GET", base+"/vary", bob); !strings.HasPrefix(r.body, "page of bob") {
		t.Fatalf("Vary: X-User-Id page: bob was served %q", r.body)
	}
	// A client cannot pick another user's variant by sending the header.
	if r := send(t, client, "GET", base+"/vary", bob, withHeader("X-User-Id", "alice")); !strings.HasPrefix(r.body, "page of bob") {
		t.Fatalf("bob with a forged X-User-Id was served %q", r.body)
	}
}

// TestTagCacheBeforeGateNeverOpensIt is issue 10.4: a site-level tag_cache
// and a gated handle block. Alice's page must not be served to an anonymous
// visitor, and the config load warns, naming both directives and the fix.
func TestTagCacheBeforeGateNeverOpensIt(t *testing.T) {
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprintf(w, "dashboard of %s", r.Header.Get("X-User-Id"))
	})
	port := testharness.FreePort(t)
	p := testharness.StartBinary(t, fmt.Sprintf(`:%d {
	tag_cache
	handle /app/* {
		auth_proxy {
			jwt {
				secret {env.JWT_SECRET}
			}
			forward_claim sub X-User-Id
		}
		reverse_proxy %s
	}
	respond "public"
}`, port, strings.TrimPrefix(origin.URL, "http://")), "JWT_SECRET="+authSecret)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := testharness.NoRedirectClient()
	alice := withCookie("_token", mintToken(t, tokenSpec{sub: "alice"}))
	if r := send(t, client, "GET", base+"/app/dashboard", alice); r.body != "dashboard of alice" {
		t.Fatalf("alice: %d %q", r.status, r.body)
	}
	if r := send(t, client, "GET", base+"/app/dashboard", alice); !strings.Contains(r.header.Get("Cache-Status"), "behind-gate") {
		t.Fatalf("second alice request: Cache-Status %q, want behind-gate", r.header.Get("Cache-Status"))
	}
	if r := send(t, client, "GET", base+"/app/dashboard"); r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous visitor got %d %q from the cache in front of the gate", r.status, r.body)
	}
	testharness.WaitFor(t, 5*time.Second, "the gate-order warning", func() bool {
		return strings.Contains(p.LogText(), "tag_cache runs before a gate")
	})
	logs := p.LogText()
	for _, want := range []string{`"gate":"auth_proxy"`, `"cache":"tag_cache"`, `"fix":"order auth_proxy before tag_cache`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the warning lacks %s:\n%s", want, grepLines(logs, "tag_cache runs before"))
		}
	}

	// The safe orders load without the warning: the gate first in one
	// route, and a cache in one handle block with a gate in another.
	port = testharness.FreePort(t)
	safe := testharness.StartBinary(t, fmt.Sprintf(`:%d {
	handle /app/* {
		auth_proxy {
			jwt {
				secret {env.JWT_SECRET}
			}
		}
		tag_cache
		reverse_proxy %s
	}
	handle /public/* {
		tag_cache
		reverse_proxy %s
	}
	handle /api/* {
		auth_proxy {
			jwt {
				secret {env.JWT_SECRET}
			}
		}
		reverse_proxy %s
	}
}`, port, strings.TrimPrefix(origin.URL, "http://"), strings.TrimPrefix(origin.URL, "http://"), strings.TrimPrefix(origin.URL, "http://")), "JWT_SECRET="+authSecret)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	send(t, client, "GET", base+"/app/dashboard", alice)
	if r := send(t, client, "GET", base+"/app/dashboard", alice); !strings.Contains(r.header.Get("Cache-Status"), "; hit") {
		t.Fatalf("gate before the cache: second request %q, want a hit", r.header.Get("Cache-Status"))
	}
	if r := send(t, client, "GET", base+"/app/dashboard"); r.status != http.StatusUnauthorized {
		t.Fatalf("gate before the cache: anonymous visitor got %d", r.status)
	}
	if strings.Contains(safe.LogText(), "tag_cache runs before a gate") {
		t.Fatalf("a safe config was warned about:\n%s", grepLines(safe.LogText(), "tag_cache runs before"))
	}
}

// TestTagCacheHeaderDirectiveBeforeCache is issue 10.5 with Caddy's own
// `header` directive reflecting the Origin before the cache (CORS): the
// first visitor's origin must not be replayed to everyone after.
func TestTagCacheHeaderDirectiveBeforeCache(t *testing.T) {
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "shared data")
	})
	_, base := loadAuthConfig(t, `:{PORT} {
	route {
		header Access-Control-Allow-Origin "{http.request.header.Origin}"
		tag_cache
		reverse_proxy `+strings.TrimPrefix(origin.URL, "http://")+`
	}
}`)
	client := testharness.NoRedirectClient()
	send(t, client, "GET", base+"/data", withHeader("Origin", "https://evil.example"))
	r := send(t, client, "GET", base+"/data", withHeader("Origin", "https://app.example"))
	if !strings.Contains(r.header.Get("Cache-Status"), "; hit") {
		t.Fatalf("second request was no hit: %q", r.header.Get("Cache-Status"))
	}
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://app.example" {
		t.Fatalf("hit carries Access-Control-Allow-Origin %v, want only this request's origin", got)
	}
}

// TestTagCacheHostileRequestsThroughCaddy is issues 10.6 and 10.7 through a
// real Caddy and reverse_proxy: a GET with a body cannot choose what the
// plain GET gets, and no path hands out the origin's tag headers.
func TestTagCacheHostileRequestsThroughCaddy(t *testing.T) {
	var calls atomic.Int32
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "user-42")
		w.Header().Set("X-Next-Cache-Tags", "_N_T_/account/42")
		fmt.Fprintf(w, "body=%q", body)
	})
	_, base := loadAuthConfig(t, `:{PORT} {
	tag_cache
	reverse_proxy `+strings.TrimPrefix(origin.URL, "http://")+`
}`)
	client := testharness.NoRedirectClient()
	if r := send(t, client, "GET", base+"/q", withBody("poison")); r.header.Get("Cache-Tag") != "" {
		t.Error("tag header leaked on a GET with a body")
	}
	if r := send(t, client, "GET", base+"/q"); r.body != `body=""` {
		t.Fatalf("plain GET got the body-chosen answer %q", r.body)
	}
	for _, c := range []struct {
		method string
		opts   []reqOpt
	}{
		{"GET", []reqOpt{withHeader("Upgrade", "x")}},
		{"OPTIONS", nil},
		{"PROPFIND", nil},
		{"DELETE", nil},
		{"GET", nil},
	} {
		r := send(t, client, c.method, base+"/leak", c.opts...)
		if r.header.Get("Cache-Tag") != "" || r.header.Get("X-Next-Cache-Tags") != "" {
			t.Errorf("%s %v: tag headers leaked: %v", c.method, c.opts, r.header)
		}
	}
}

// TestTagCacheSurvivesOriginAbortDuringRefresh is issue 10.1 through a real
// reverse_proxy: the origin breaks off during the background refresh that
// stale-while-revalidate starts, after its headers and part of the body
// (reverse_proxy then panics with http.ErrAbortHandler in the refresh
// goroutine; with ?early it resets before any byte, a 502). Caddy must keep
// serving, and the failed refresh is counted.
func TestTagCacheSurvivesOriginAbortDuringRefresh(t *testing.T) {
	var calls atomic.Int32
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n == 1 {
			w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600")
			io.WriteString(w, "v1")
			return
		}
		if r.URL.Query().Get("early") == "" {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			io.WriteString(w, "trunc")
			w.(http.Flusher).Flush()
		}
		panic(http.ErrAbortHandler) // the origin resets
	})
	c, base := loadAuthConfig(t, `:{PORT} {
	tag_cache
	reverse_proxy `+strings.TrimPrefix(origin.URL, "http://")+`
}`)
	client := testharness.NoRedirectClient()
	send(t, client, "GET", base+"/swr")
	time.Sleep(2100 * time.Millisecond) // max-age=1 passes
	if r := send(t, client, "GET", base+"/swr"); r.body != "v1" || !strings.Contains(r.header.Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("stale answer: %q %q", r.body, r.header.Get("Cache-Status"))
	}
	var stats string
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stats, `"refresh_failures":1`) || !strings.Contains(stats, `"flights":0`) {
		if time.Now().After(deadline) {
			t.Fatalf("the failed refresh is not in the stats (origin calls %d): %s", calls.Load(), stats)
		}
		time.Sleep(20 * time.Millisecond)
		stats = send(t, http.DefaultClient, "GET", c.AdminURL("/tag_cache/stats")).body
	}
	if r := send(t, client, "GET", base+"/swr"); r.status != 200 || r.body != "v1" {
		t.Fatalf("Caddy after the aborted refresh: %d %q", r.status, r.body)
	}
	metrics := send(t, http.DefaultClient, "GET", c.AdminURL("/metrics")).body
	if !strings.Contains(metrics, `caddy_tag_cache_refresh_failures_total{store="default"}`) {
		t.Fatalf("no refresh failure metric:\n%s", grepLines(metrics, "tag_cache"))
	}
}

// TestTagCacheGenuineUpgradePassesThrough checks that a real protocol
// upgrade (Connection: upgrade) still works through tag_cache and
// reverse_proxy now that every bypass strips tag headers: the 101 arrives
// without the origin's tags, and bytes flow both ways on the hijacked
// connection.
func TestTagCacheGenuineUpgradePassesThrough(t *testing.T) {
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\nCache-Tag: user-42\r\n\r\n")
		brw.Flush()
		line, err := brw.ReadString('\n')
		if err == nil {
			brw.WriteString("echo: " + line)
			brw.Flush()
		}
	})
	_, base := loadAuthConfig(t, `:{PORT} {
	tag_cache
	reverse_proxy `+strings.TrimPrefix(origin.URL, "http://")+`
}`)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d", resp.StatusCode)
	}
	if resp.Header.Get("Cache-Tag") != "" {
		t.Errorf("the 101 carried the origin's Cache-Tag")
	}
	fmt.Fprintf(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Fatalf("after the upgrade: %q, %v", line, err)
	}
}

// TestTagCacheBeforeBasicAuthNeverOpensIt is the neighbour of issue 10.4
// with Caddy's own gate: a site-level tag_cache and a handle block with
// basic_auth. What basic_auth let through must not be served from the
// cache to a visitor without credentials.
func TestTagCacheBeforeBasicAuthNeverOpensIt(t *testing.T) {
	origin := startTestOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "admin console")
	})
	_, base := loadAuthConfig(t, `:{PORT} {
	tag_cache
	handle /admin/* {
		basic_auth {
			admin $2a$14$HT9ymgMxuxyxuLIguVRnv.K60ccm2LZeRm0f53/3bOjAPVk17RUOK
		}
		reverse_proxy `+strings.TrimPrefix(origin.URL, "http://")+`
	}
}`)
	client := testharness.NoRedirectClient()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:open-sesame"))
	if r := send(t, client, "GET", base+"/admin/console", withHeader("Authorization", basic)); r.status != 200 || !strings.Contains(r.header.Get("Cache-Status"), "behind-gate") {
		t.Fatalf("admin: %d, Cache-Status %q, want 200 not stored (behind-gate)", r.status, r.header.Get("Cache-Status"))
	}
	if r := send(t, client, "GET", base+"/admin/console"); r.status != http.StatusUnauthorized {
		t.Fatalf("a visitor without credentials got %d %q", r.status, r.body)
	}
}
