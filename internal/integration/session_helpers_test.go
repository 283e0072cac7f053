package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// sessionServer is a Caddy serving one plain-HTTP site for the session
// tests, on a free port.
type sessionServer struct {
	caddy *testharness.InProcess
	port  int
	base  string
}

// startSessionServer loads a site on a free port whose block holds body.
func startSessionServer(t *testing.T, body string) *sessionServer {
	t.Helper()
	port := testharness.FreePort(t)
	s := &sessionServer{port: port, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	s.caddy = testharness.StartInProcess(t, s.config(body), "caddyfile")
	return s
}

func (s *sessionServer) config(body string) string {
	return fmt.Sprintf(":%d {\n%s\n}\n", s.port, body)
}

// reload replaces the site's block with body.
func (s *sessionServer) reload(body string) {
	s.caddy.Load(s.config(body), "caddyfile")
}

// send sends method to path (with its query) on the site, through the
// package's send.
func (s *sessionServer) send(t *testing.T, method, path string, opts ...reqOpt) reply {
	t.Helper()
	return send(t, s.caddy.Client, method, s.base+path, opts...)
}

// callbackPath builds a callback URL path with the given query pairs, each
// value percent-encoded as a browser would.
func callbackPath(path string, pairs ...string) string {
	q := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		q = append(q, url.QueryEscape(pairs[i])+"="+url.QueryEscape(pairs[i+1]))
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + strings.Join(q, "&")
}

// assertSessionAnswerHeaders checks the headers every session answer
// carries, whatever its status.
func assertSessionAnswerHeaders(t *testing.T, r reply) {
	t.Helper()
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := r.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", got)
	}
}

// assertJSONProblem checks a 4xx/5xx answer: status, JSON content type, the
// stable {"success":false,"error":...} shape with a message containing
// wantMsg, and no session cookie.
func assertJSONProblem(t *testing.T, r reply, status int, wantMsg string) {
	t.Helper()
	body := r.body
	if r.status != status {
		t.Fatalf("status %d, want %d; body %q", r.status, status, body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var p struct {
		Success *bool  `json:"success"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("body is not JSON: %q", body)
	}
	if p.Success == nil || *p.Success {
		t.Errorf("body %q: want success false", body)
	}
	if !strings.Contains(p.Error, wantMsg) {
		t.Errorf("error %q does not contain %q", p.Error, wantMsg)
	}
	if sc := r.header.Values("Set-Cookie"); len(sc) > 0 {
		t.Errorf("an error answer set cookies: %q", sc)
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("an error answer has Location %q", loc)
	}
}

// setCookie returns the single Set-Cookie header named name, split into its
// value and its attributes (lower-cased names; values kept).
func setCookie(t *testing.T, r reply, name string) (value string, attrs map[string]string) {
	t.Helper()
	var found []string
	for _, line := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one Set-Cookie for %q, got %q", name, r.header.Values("Set-Cookie"))
	}
	parts := strings.Split(found[0], ";")
	value = strings.TrimPrefix(parts[0], name+"=")
	attrs = map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		attrs[strings.ToLower(k)] = v
	}
	return value, attrs
}

// sessionJSONConfig is a JSON config serving handler (a JSON object without
// its braces) on every path of port, keeping the admin endpoint where the
// harness expects it.
func sessionJSONConfig(port int, handler string) string {
	return fmt.Sprintf(`{
		"admin": {"listen": %q},
		"apps": {"http": {"servers": {"s": {
			"listen": [":%d"],
			"routes": [{"handle": [{%s}]}]
		}}}}
	}`, testharness.AdminAddress, port, handler)
}
