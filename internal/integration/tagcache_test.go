package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestExampleCaddyfileCaches runs examples/Caddyfile, the README's quick
// start, and checks what a user would see: a MISS then a HIT, tag headers
// hidden, private pages never stored, and revalidation through the admin API.
func TestExampleCaddyfileCaches(t *testing.T) {
	port := portEnv(t, "PORT")
	portEnv(t, "UPSTREAM_PORT")
	caddy := testharness.StartInProcess(t, readExample(t, "Caddyfile"), "caddyfile")
	base := "http://localhost:" + port

	r := send(t, caddy.Client, "GET", base+"/posts")
	first := r.body
	if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "stored") {
		t.Fatalf("first /posts: Cache-Status %q, want a stored miss", cs)
	}
	if r.header.Get("X-Next-Cache-Tags") != "" {
		t.Fatal("x-next-cache-tags reached the client")
	}
	r = send(t, caddy.Client, "GET", base+"/posts")
	if !strings.HasPrefix(r.header.Get("Cache-Status"), "caddy-bff; hit") || r.body != first {
		t.Fatalf("second /posts: Cache-Status %q body %q, want a hit with %q", r.header.Get("Cache-Status"), r.body, first)
	}
	if r.header.Get("Age") == "" {
		t.Fatal("a cached answer has no Age header")
	}
	about := send(t, caddy.Client, "GET", base+"/about").body

	send(t, caddy.Client, "GET", base+"/account")
	r = send(t, caddy.Client, "GET", base+"/account")
	if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "detail=no-store") {
		t.Fatalf("a private page was served from the cache: %q", r.header.Get("Cache-Status"))
	}

	// Revalidate the posts tag: /posts is refetched, /about stays cached.
	r = send(t, http.DefaultClient, "POST", caddy.AdminURL("/tag_cache/revalidate"),
		withBody(`{"tags":["posts"]}`), withHeader("Content-Type", "application/json"))
	if r.status != 200 || decodeJSON(t, r.body)["success"] != true {
		t.Fatalf("revalidate: %d %s", r.status, r.body)
	}
	r = send(t, caddy.Client, "GET", base+"/posts")
	if r.body == first || !strings.Contains(r.header.Get("Cache-Status"), "fwd=miss; detail=invalidated") {
		t.Fatalf("/posts after revalidation: Cache-Status %q, body unchanged %v", r.header.Get("Cache-Status"), r.body == first)
	}
	r = send(t, caddy.Client, "GET", base+"/about")
	if r.body != about || !strings.Contains(r.header.Get("Cache-Status"), "; hit") {
		t.Fatalf("/about after revalidating posts: Cache-Status %q", r.header.Get("Cache-Status"))
	}

	// Path revalidation in stale mode: served stale once, refreshed behind.
	r = send(t, http.DefaultClient, "POST", caddy.AdminURL("/tag_cache/revalidate"),
		withBody(`{"paths":["/about"],"mode":"stale"}`))
	if r.status != 200 {
		t.Fatalf("revalidate path: %d %s", r.status, r.body)
	}
	r = send(t, caddy.Client, "GET", base+"/about")
	if r.body != about || !strings.Contains(r.header.Get("Cache-Status"), "soft-invalidated") {
		t.Fatalf("/about after a soft path revalidation: Cache-Status %q", r.header.Get("Cache-Status"))
	}

	// Stats and metrics count what happened.
	stats := send(t, http.DefaultClient, "GET", caddy.AdminURL("/tag_cache/stats")).body
	for _, want := range []string{`"hits":`, `"invalidations":2`, `"kind":"memory"`} {
		if !strings.Contains(stats, want) {
			t.Fatalf("stats lack %s: %s", want, stats)
		}
	}
	metrics := send(t, http.DefaultClient, "GET", caddy.AdminURL("/metrics")).body
	if !strings.Contains(metrics, `caddy_tag_cache_invalidations_total{store="default"} 2`) {
		t.Fatalf("metrics lack the invalidation counter:\n%s", grepLines(metrics, "tag_cache"))
	}

	// Flush empties the store.
	r = send(t, http.DefaultClient, "DELETE", caddy.AdminURL("/tag_cache/entries"))
	if r.status != 200 || !strings.Contains(r.body, `"flushed"`) {
		t.Fatalf("flush: %d %s", r.status, r.body)
	}
	r = send(t, caddy.Client, "GET", base+"/about")
	if strings.Contains(r.header.Get("Cache-Status"), "; hit") {
		t.Fatal("a flushed entry was still served")
	}
}

func TestTagCacheAdminAPIErrors(t *testing.T) {
	port := portEnv(t, "PORT")
	portEnv(t, "UPSTREAM_PORT")
	caddy := testharness.StartInProcess(t, readExample(t, "Caddyfile"), "caddyfile")
	_ = port
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/tag_cache/revalidate", `{"tags":`, 400, "decoding request body"},
		{"POST", "/tag_cache/revalidate", `{"tags":[]}`, 400, "at least one tag or path"},
		{"POST", "/tag_cache/revalidate", `{"tags":["a"],"mode":"later"}`, 400, "mode must be"},
		{"POST", "/tag_cache/revalidate", `{"tags":["` + strings.Repeat("x", 300) + `"]}`, 400, "at most 256"},
		{"POST", "/tag_cache/revalidate", `{"paths":["no-slash"]}`, 400, "must start with /"},
		{"POST", "/tag_cache/revalidate", `{"tags":["a"],"store":"nope"}`, 400, "no store named"},
		{"POST", "/tag_cache/revalidate", `{"tagz":["a"]}`, 400, "unknown field"},
		{"GET", "/tag_cache/revalidate", ``, 405, "method not allowed"},
		{"POST", "/tag_cache/stats", ``, 405, "method not allowed"},
		{"DELETE", "/tag_cache/entries?store=nope", ``, 404, "no store named"},
	} {
		r := send(t, http.DefaultClient, tc.method, caddy.AdminURL(tc.path), withBody(tc.body))
		if r.status != tc.status || !strings.Contains(r.body, tc.msg) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", tc.method, tc.path, tc.body, r.status, r.body, tc.status, tc.msg)
		}
		if m := decodeJSON(t, r.body); m["error"] == nil {
			t.Errorf("%s %s: error body has no \"error\" field: %s", tc.method, tc.path, r.body)
		}
	}
}

// TestTagCacheSurvivesReload proves entries live through a config reload:
// the upstream's answer changes with the new config, but the cached page is
// still served from memory.
func TestTagCacheSurvivesReload(t *testing.T) {
	port := testharness.FreePort(t)
	upstream := testharness.FreePort(t)
	config := func(version string) string {
		return fmt.Sprintf(`
{
	tag_cache {
		max_size 32MiB
	}
}
http://localhost:%d {
	tag_cache
	reverse_proxy localhost:%d
}
http://localhost:%d {
	header Cache-Control "public, max-age=600"
	respond "%s"
}`, port, upstream, upstream, version)
	}
	caddy := testharness.StartInProcess(t, config("v1"), "caddyfile")
	url := fmt.Sprintf("http://localhost:%d/page", port)
	if r := send(t, caddy.Client, "GET", url); r.body != "v1" {
		t.Fatalf("before reload: %q", r.body)
	}
	caddy.Load(config("v2"), "caddyfile")
	r := send(t, caddy.Client, "GET", url)
	if r.body != "v1" || !strings.Contains(r.header.Get("Cache-Status"), "; hit") {
		t.Fatalf("after reload: body %q Cache-Status %q, want the warm v1 entry", r.body, r.header.Get("Cache-Status"))
	}
	if r := send(t, caddy.Client, "GET", url+"?fresh"); r.body != "v2" {
		t.Fatalf("a new URL after reload got %q, want the new config's v2", r.body)
	}
}

// TestJSONConfigLoadAndReload drives the module purely through Caddy's JSON
// config and admin API: POST /load, then a reload that changes the handler.
func TestJSONConfigLoadAndReload(t *testing.T) {
	port := testharness.FreePort(t)
	config := func(cacheName string) string {
		return fmt.Sprintf(`{
  "admin": {"listen": %q},
  "apps": {
    "tag_cache": {"max_size": 16777216},
    "http": {"servers": {"s": {
      "listen": [":%d"],
      "routes": [{"handle": [
        {"handler": "tag_cache", "cache_name": %q},
        {"handler": "headers", "response": {"set": {"Cache-Control": ["public, max-age=60"], "Surrogate-Key": ["a b"]}}},
        {"handler": "static_response", "body": "json config"}
      ]}]
    }}}
  }
}`, testharness.AdminAddress, port, cacheName)
	}
	caddy := testharness.StartInProcess(t, config("first"), "json")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	send(t, caddy.Client, "GET", url)
	r := send(t, caddy.Client, "GET", url)
	if r.body != "json config" || !strings.HasPrefix(r.header.Get("Cache-Status"), "first; hit") {
		t.Fatalf("JSON config: body %q Cache-Status %q", r.body, r.header.Get("Cache-Status"))
	}
	caddy.Load(config("second"), "json")
	r = send(t, caddy.Client, "GET", url)
	if !strings.HasPrefix(r.header.Get("Cache-Status"), "second; hit") {
		t.Fatalf("after JSON reload: Cache-Status %q, want the new cache name and a warm hit", r.header.Get("Cache-Status"))
	}
	// A config the module refuses is refused by Caddy and names the reason.
	err := caddy.TryLoad(strings.Replace(config("x"), `"cache_name": "x"`, `"cache_name": "bad name"`, 1), "json")
	if err == nil || !strings.Contains(err.Error(), "must be a token") {
		t.Fatalf("bad JSON config: %v", err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
