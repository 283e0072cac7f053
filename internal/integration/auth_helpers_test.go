package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// authSecret is the HMAC secret the auth tests give Caddy via JWT_SECRET.
const authSecret = "integration-test-secret-for-auth-proxy-0123456789"

// seenRequest is what the test upstream saw.
type seenRequest struct {
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Headers map[string][]string `json:"headers"`
}

// startUpstream starts an app that answers every request with a JSON
// description of it, standing in for the Next.js server.
func startUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seenRequest{Path: r.URL.Path, Query: r.URL.RawQuery, Headers: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// loadExample loads examples/<name> with the app on a free port and the
// upstream and secret from the test, and returns the app's base URL.
func loadExample(t testing.TB, name, upstream string) (*testharness.InProcess, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	port := testharness.FreePort(t)
	t.Setenv("APP_PORT", strconv.Itoa(port))
	t.Setenv("UPSTREAM", strings.TrimPrefix(upstream, "http://"))
	t.Setenv("JWT_SECRET", authSecret)
	c := testharness.StartInProcess(t, string(raw), "caddyfile")
	return c, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// loadAuthConfig loads a Caddyfile whose site address is written as
// `:{PORT}` and returns the base URL.
func loadAuthConfig(t testing.TB, caddyfile string) (*testharness.InProcess, string) {
	t.Helper()
	port := testharness.FreePort(t)
	t.Setenv("JWT_SECRET", authSecret)
	c := testharness.StartInProcess(t, strings.ReplaceAll(caddyfile, "{PORT}", strconv.Itoa(port)), "caddyfile")
	return c, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// upstreamSaw decodes the test upstream's description of the request.
func upstreamSaw(t testing.TB, r reply) seenRequest {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 from the upstream; body %s", r.status, r.body)
	}
	var seen seenRequest
	if err := json.Unmarshal([]byte(r.body), &seen); err != nil {
		t.Fatalf("not the upstream's answer: %q", r.body)
	}
	return seen
}

const seedFailureBody = `{"success":false,"message":"authentication failed"}`

// assertSeed401 checks the seed proxy.ts answer.
func assertSeed401(t testing.TB, r reply, what string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Fatalf("%s: status %d, want 401; body %s", what, r.status, r.body)
	}
	if strings.TrimSpace(r.body) != seedFailureBody {
		t.Fatalf("%s: body %q, want the seed's %s", what, r.body, seedFailureBody)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

func freePortString(t testing.TB) string {
	return strconv.Itoa(testharness.FreePort(t))
}

func adminAddress() string { return testharness.AdminAddress }
