package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// get sends method to path (with its query) and returns the answer and its
// body. Extra headers come as name, value pairs.
func (s *sessionServer) do(t *testing.T, method, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := s.caddy.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
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
func assertSessionAnswerHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", got)
	}
}

// assertJSONProblem checks a 4xx/5xx answer: status, JSON content type, the
// stable {"success":false,"error":...} shape with a message containing
// wantMsg, and no session cookie.
func assertJSONProblem(t *testing.T, resp *http.Response, body string, status int, wantMsg string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %q", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
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
	if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
		t.Errorf("an error answer set cookies: %q", sc)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Errorf("an error answer has Location %q", loc)
	}
}

// setCookie returns the single Set-Cookie header named name, split into its
// value and its attributes (lower-cased names; values kept).
func setCookie(t *testing.T, resp *http.Response, name string) (value string, attrs map[string]string) {
	t.Helper()
	var found []string
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one Set-Cookie for %q, got %q", name, resp.Header.Values("Set-Cookie"))
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

// hs256 signs claims as a compact JWT with secret, written by hand so the
// test does not share code with the verifier it checks. alg overrides the
// header's algorithm (for "none" forgeries); sign=false leaves the
// signature empty.
func hs256(t *testing.T, secret string, claims map[string]any, alg string, sign bool) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signingInput := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	if !sign {
		return signingInput + "."
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signingInput))
	return signingInput + "." + enc.EncodeToString(mac.Sum(nil))
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
