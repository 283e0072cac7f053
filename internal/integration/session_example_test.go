package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// TestSessionExample runs examples/session.Caddyfile as written, except for
// its port and the test's own certificate storage, over HTTPS with Caddy's
// internal CA (trusted by the test client through the admin API).
func TestSessionExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(t), "examples", "session.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	example := string(raw)
	if !strings.Contains(example, "localhost:8443 {") {
		t.Fatal("examples/session.Caddyfile no longer serves localhost:8443; update this test")
	}

	// The example adapts cleanly on its own.
	if _, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "session.Caddyfile"}); err != nil || len(warnings) > 0 {
		t.Fatalf("adapting the example: %v %v", err, warnings)
	}

	port := testharness.FreePort(t)
	cfg := fmt.Sprintf("{\n\tstorage file_system %s\n\tskip_install_trust\n\tauto_https disable_redirects\n}\n%s",
		t.TempDir(), strings.Replace(example, "localhost:8443 {", fmt.Sprintf("localhost:%d {", port), 1))
	c := testharness.StartInProcess(t, cfg, "caddyfile")

	client := trustingClient(t, c)
	base := fmt.Sprintf("https://localhost:%d", port)
	// The certificate is issued in the background right after the config
	// loads; the first handshakes may come too early.
	tlsConfig := client.Transport.(*http.Transport).TLSClientConfig
	testharness.WaitFor(t, 20*time.Second, "a TLS handshake with the site", func() bool {
		conn, err := tls.Dial("tcp", fmt.Sprintf("localhost:%d", port), tlsConfig)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	get := func(path string, opts ...reqOpt) reply {
		t.Helper()
		return send(t, client, http.MethodGet, base+path, opts...)
	}

	r := get(callbackPath("/api/auth/callback", "session_token", "tok-123", "redirect_url", "/dashboard"))
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/dashboard" {
		t.Fatalf("callback: %d Location %q, want 307 to /dashboard", r.status, r.header.Get("Location"))
	}
	assertSessionAnswerHeaders(t, r)
	v, attrs := setCookie(t, r, "_token")
	if v != "tok-123" || attrs["path"] != "/" || attrs["samesite"] != "Lax" {
		t.Errorf("cookie %q %v", v, attrs)
	}
	for _, a := range []string{"secure", "httponly"} {
		if _, ok := attrs[a]; !ok {
			t.Errorf("cookie lacks %s: %v", a, attrs)
		}
	}

	if r := get("/dashboard", withCookie("_token", "tok-123")); r.body != "signed in" {
		t.Errorf("with the cookie: %q, want signed in", r.body)
	}
	if r := get("/dashboard"); r.body != "signed out" {
		t.Errorf("without the cookie: %q, want signed out", r.body)
	}

	r = get(callbackPath("/api/auth/callback", "session_token", "tok-123", "redirect_url", "https://accounts.example.com/profile"))
	if r.header.Get("Location") != "https://accounts.example.com/profile" {
		t.Errorf("allowlisted target: Location %q", r.header.Get("Location"))
	}
	r = get(callbackPath("/api/auth/callback", "session_token", "tok-123", "redirect_url", "https://evil.example/"))
	if r.header.Get("Location") != "/" {
		t.Errorf("the seed's open redirect: Location %q, want /", r.header.Get("Location"))
	}
	assertJSONProblem(t, get("/api/auth/callback"), http.StatusBadRequest, "missing session_token")

	r = get(callbackPath("/api/auth/logout", "redirect_url", "/"), withCookie("_token", "tok-123"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Errorf("logout: %d Location %q, want 303 to /", r.status, r.header.Get("Location"))
	}
	assertExpiresCookie(t, r, "_token", "/")
}

// trustingClient returns a client (not following redirects) that trusts the
// root of Caddy's local CA, fetched from the admin API.
func trustingClient(t *testing.T, c *testharness.InProcess) *http.Client {
	t.Helper()
	var root string
	testharness.WaitFor(t, 20*time.Second, "the local CA root from the admin API", func() bool {
		var ca struct {
			Root string `json:"root_certificate"`
		}
		_ = json.Unmarshal([]byte(send(t, http.DefaultClient, http.MethodGet, c.AdminURL("/pki/ca/local")).body), &ca)
		root = ca.Root
		return root != ""
	})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(root)) {
		t.Fatal("the local CA root is not PEM")
	}
	client := testharness.NoRedirectClient()
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(client.CloseIdleConnections)
	return client
}
