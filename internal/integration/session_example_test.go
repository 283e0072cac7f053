package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
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
	get := func(path string, cookies ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for _, ck := range cookies {
			req.Header.Add("Cookie", ck)
		}
		var resp *http.Response
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err = client.Do(req)
			// The certificate is issued in the background right after the
			// config loads; the first handshakes may come too early.
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, _ := get(callbackPath("/api/auth/callback", "session_token", "tok-123", "redirect_url", "/dashboard"))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/dashboard" {
		t.Fatalf("callback: %d Location %q, want 307 to /dashboard", resp.StatusCode, resp.Header.Get("Location"))
	}
	assertSessionAnswerHeaders(t, resp)
	v, attrs := setCookie(t, resp, "_token")
	if v != "tok-123" || attrs["path"] != "/" || attrs["samesite"] != "Lax" {
		t.Errorf("cookie %q %v", v, attrs)
	}
	for _, a := range []string{"secure", "httponly"} {
		if _, ok := attrs[a]; !ok {
			t.Errorf("cookie lacks %s: %v", a, attrs)
		}
	}

	if _, body := get("/dashboard", "_token=tok-123"); body != "signed in" {
		t.Errorf("with the cookie: %q, want signed in", body)
	}
	if _, body := get("/dashboard"); body != "signed out" {
		t.Errorf("without the cookie: %q, want signed out", body)
	}

	resp, _ = get(callbackPath("/api/auth/callback", "session_token", "tok-123", "redirect_url", "https://accounts.example.com/profile"))
	if resp.Header.Get("Location") != "https://accounts.example.com/profile" {
		t.Errorf("allowlisted target: Location %q", resp.Header.Get("Location"))
	}
	resp, _ = get(callbackPath("/api/auth/callback", "session_token", "tok-123", "redirect_url", "https://evil.example/"))
	if resp.Header.Get("Location") != "/" {
		t.Errorf("the seed's open redirect: Location %q, want /", resp.Header.Get("Location"))
	}
	resp, body := get("/api/auth/callback")
	assertJSONProblem(t, resp, body, http.StatusBadRequest, "missing session_token")

	resp, _ = get(callbackPath("/api/auth/logout", "redirect_url", "/"), "_token=tok-123")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("logout: %d Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	assertExpiresCookie(t, resp, "_token", "/")
}

// trustingClient returns a client (not following redirects) that trusts the
// root of Caddy's local CA, fetched from the admin API.
func trustingClient(t *testing.T, c *testharness.InProcess) *http.Client {
	t.Helper()
	var root string
	deadline := time.Now().Add(20 * time.Second)
	for root == "" {
		resp, err := http.Get(c.AdminURL("/pki/ca/local"))
		if err == nil {
			var ca struct {
				Root string `json:"root_certificate"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&ca)
			resp.Body.Close()
			root = ca.Root
		}
		if root == "" {
			if time.Now().After(deadline) {
				t.Fatalf("the local CA root is not available from the admin API: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(root)) {
		t.Fatal("the local CA root is not PEM")
	}
	client := testharness.NoRedirectClient()
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(client.CloseIdleConnections)
	return client
}
