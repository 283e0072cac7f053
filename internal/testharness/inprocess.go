package testharness

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// AdminAddress is where the in-process Caddy's admin endpoint listens:
// localhost:2999 as in caddytest, or CADDYBFF_TEST_ADMIN when set (so two
// checkouts can run their integration tests side by side). Only one
// in-process Caddy exists per test binary, so every Caddy-level integration
// test lives in one package and none runs in parallel.
var AdminAddress = adminAddress()

func adminAddress() string {
	if a := os.Getenv("CADDYBFF_TEST_ADMIN"); a != "" {
		return a
	}
	return "localhost:2999"
}

var startOnce sync.Once

// InProcess is the Caddy running inside the test binary.
type InProcess struct {
	t testing.TB
	// Client talks to the servers of the loaded config. It never follows
	// redirects, so tests see them as a browser's network panel would.
	Client *http.Client
}

// StartInProcess starts (once per test binary) a Caddy in this process with
// its admin endpoint on AdminAddress, then loads cfg through the admin API's
// POST /load, exactly as a user would. adapter is "json" or "caddyfile". A
// Caddyfile gets a global `admin` option pointing at AdminAddress when it has
// none. When the test ends, an empty config is loaded so every listener closes.
func StartInProcess(t testing.TB, cfg, adapter string) *InProcess {
	t.Helper()
	var startErr error
	startOnce.Do(func() {
		startErr = caddy.Load([]byte(fmt.Sprintf(`{"admin":{"listen":%q}}`, AdminAddress)), true)
	})
	if startErr != nil {
		t.Fatalf("starting in-process Caddy: %v", startErr)
	}
	c := &InProcess{t: t, Client: NoRedirectClient()}
	c.Load(cfg, adapter)
	t.Cleanup(func() {
		_ = postLoad(fmt.Sprintf(`{"admin":{"listen":%q}}`, AdminAddress), "json")
	})
	return c
}

// Load replaces the running config through POST /load, failing the test with
// Caddy's own error message when the config is refused.
func (c *InProcess) Load(cfg, adapter string) {
	c.t.Helper()
	if adapter == "caddyfile" {
		cfg = withAdmin(cfg)
	}
	if err := postLoad(cfg, adapter); err != nil {
		c.t.Fatalf("loading config: %v", err)
	}
}

// TryLoad is Load for configs that are expected to be refused: it returns
// the admin API's error instead of failing the test.
func (c *InProcess) TryLoad(cfg, adapter string) error {
	if adapter == "caddyfile" {
		cfg = withAdmin(cfg)
	}
	return postLoad(cfg, adapter)
}

// AdminURL returns the admin endpoint URL for path (which starts with "/").
func (c *InProcess) AdminURL(path string) string {
	return "http://" + AdminAddress + path
}

// withAdmin inserts `admin <AdminAddress>` into the Caddyfile's global
// options block (after any leading comments), or adds such a block.
func withAdmin(caddyfile string) string {
	lines := strings.Split(caddyfile, "\n")
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if trimmed == "{" {
			rest := append([]string{"\tadmin " + AdminAddress}, lines[i+1:]...)
			return strings.Join(append(lines[:i+1:i+1], rest...), "\n")
		}
		break
	}
	return "{\n\tadmin " + AdminAddress + "\n}\n" + caddyfile
}

func postLoad(cfg, adapter string) error {
	body := []byte(cfg)
	if adapter != "json" {
		adapted, _, err := caddyconfig.GetAdapter(adapter).Adapt(body, nil)
		if err != nil {
			return fmt.Errorf("adapting: %w", err)
		}
		body = adapted
	}
	// A fresh connection for every load: a config load may restart the
	// admin endpoint, and a kept-alive connection to the old one fails a
	// POST with EOF or a reset (Go retries only idempotent requests). A
	// network error before any answer is retried once: loading the same
	// config twice is harmless.
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(http.MethodPost, "http://"+AdminAddress+"/load", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err = adminClient.Do(req)
		if err == nil {
			break
		}
		if attempt == 1 {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer resp.Body.Close()
	// The load replaced the admin endpoint (and maybe the sites): idle
	// connections that tests' clients keep in the default transport point
	// at closed servers, and a POST sent on one would fail.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /load: %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// adminClient talks to the admin endpoint without keeping connections.
var adminClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// NoRedirectClient returns an HTTP client with a timeout that reports
// redirects instead of following them.
func NoRedirectClient() *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
