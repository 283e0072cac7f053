package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

const exampleSecret = "example-revalidate-secret"

// loadWebhookExample loads examples/webhook.Caddyfile as shipped, on free
// ports, with the secret in the environment as the example expects. It
// returns the site's base URL.
func loadWebhookExample(t *testing.T) (*testharness.InProcess, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "examples", "webhook.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	site, upstream := testharness.FreePort(t), testharness.FreePort(t)
	cfg := strings.ReplaceAll(string(raw), "8080", strconv.Itoa(site))
	cfg = strings.ReplaceAll(cfg, "8081", strconv.Itoa(upstream))
	// The harness adds its admin address to a leading global options
	// block; the example's header comment would hide that block from it.
	var lines []string
	for _, line := range strings.Split(cfg, "\n") {
		if len(lines) == 0 && strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	cfg = strings.Join(lines, "\n")
	t.Setenv("REVALIDATE_SECRET_TOKEN", exampleSecret)
	c := testharness.StartInProcess(t, cfg, "caddyfile")
	return c, "http://127.0.0.1:" + strconv.Itoa(site)
}

// jsonBody decodes a JSON object answer, failing the test when it is not
// one or lacks the JSON content type.
func jsonBody(t *testing.T, a reply) map[string]any {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json (status %d, body %q)", ct, a.status, a.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %q", a.body)
	}
	return m
}

// wantJSON checks an answer's status, success field, JSON type and
// Cache-Control: no-store.
func wantJSON(t *testing.T, a reply, status int, success bool) map[string]any {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %q", a.status, status, a.body)
	}
	m := jsonBody(t, a)
	if got, ok := m["success"].(bool); !ok || got != success {
		t.Fatalf("success %v, want %v; body %q", m["success"], success, a.body)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	return m
}

// The example as shipped: a webhook call invalidates exactly the tagged
// page, errors are JSON through handle_errors, and the sixth call within a
// minute from one client is rate limited with a JSON 429 and Retry-After.
func TestWebhookExample(t *testing.T) {
	c, base := loadWebhookExample(t)
	client := c.Client
	hook := base + "/api/revalidate"

	status := func(path string) string {
		t.Helper()
		a := send(t, client, http.MethodGet, base+path)
		if a.status != http.StatusOK {
			t.Fatalf("GET %s: %d %q", path, a.status, a.body)
		}
		return a.header.Get("Cache-Status")
	}
	// Warm the cache: first a miss, then a hit, for both pages.
	for _, p := range []string{"/posts/1", "/"} {
		if s := status(p); !strings.Contains(s, "fwd=") {
			t.Fatalf("first GET %s: Cache-Status %q, want a miss", p, s)
		}
		if s := status(p); !strings.HasPrefix(s, "caddy-bff; hit") {
			t.Fatalf("second GET %s: Cache-Status %q, want a hit", p, s)
		}
	}

	// Webhook call 1: the seed's GET, answered 200 {"success":true}.
	m := wantJSON(t, send(t, client, http.MethodGet, hook+"?token="+exampleSecret+"&tag=posts"), 200, true)
	if tags, _ := m["tags"].([]any); len(tags) != 1 || tags[0] != "posts" {
		t.Errorf("tags %v", m["tags"])
	}
	if s := status("/posts/1"); !strings.Contains(s, "fwd=") {
		t.Fatalf("tagged page after revalidation: Cache-Status %q, want a miss", s)
	}
	if s := status("/"); !strings.HasPrefix(s, "caddy-bff; hit") {
		t.Fatalf("untagged page after revalidation: Cache-Status %q, want a hit", s)
	}

	// Calls 2 to 5: errors are JSON through the example's handle_errors,
	// with their status, no-store and, for 401, WWW-Authenticate intact.
	a := send(t, client, http.MethodGet, hook+"?tag=posts")
	if wantJSON(t, a, 401, false)["error"] != "missing token" || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401: %q %v", a.body, a.header)
	}
	wantJSON(t, send(t, client, http.MethodGet, hook+"?token=nope&tag=posts"), 401, false)
	wantJSON(t, send(t, client, http.MethodGet, hook+"?token="+exampleSecret), 400, false)
	m = wantJSON(t, send(t, client, http.MethodPost, hook, withBody(`{"paths":["/posts/1"]}`), withHeader("Authorization", "Bearer "+exampleSecret)), 200, true)
	if paths, _ := m["paths"].([]any); len(paths) != 1 {
		t.Errorf("paths %v", m["paths"])
	}

	// Call 6: over the limit of 5 a minute.
	a = send(t, client, http.MethodGet, hook+"?token="+exampleSecret+"&tag=posts")
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("sixth call: status %d, want 429; body %q", a.status, a.body)
	}
	if got := jsonBody(t, a); len(got) != 1 || got["error"] != "Rate limit exceeded" {
		t.Errorf("429 body %q", a.body)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("429 Cache-Control %q", a.header.Get("Cache-Control"))
	}
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Errorf("429 Retry-After %q", a.header.Get("Retry-After"))
	}
	// The limit is the webhook's only: the site is still served.
	if s := status("/"); !strings.HasPrefix(s, "caddy-bff; hit") {
		t.Errorf("site after the webhook's limit: Cache-Status %q", s)
	}
}
