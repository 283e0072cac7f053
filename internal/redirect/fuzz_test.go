package redirect

import (
	"crypto/tls"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	whatwg "github.com/nlnwa/whatwg-url/url"
)

// assertLandsSafely is the policy's invariant, checked with an independent
// WHATWG URL parser (the algorithm browsers use to resolve a Location
// header): resolving got against base lands on base's origin or on an
// allowlisted origin, and a same-origin landing never has a path a second
// parser could read as another host.
func assertLandsSafely(t testing.TB, p *Policy, base, got string) {
	t.Helper()
	if hasControl(got) {
		t.Fatalf("returned target %q holds a control character", got)
	}
	u, err := whatwg.ParseRef(base, got)
	if err != nil {
		t.Fatalf("browser parser cannot resolve returned target %q against %s: %v", got, base, err)
	}
	b, err := whatwg.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	landed, ok := whatwgOrigin(u)
	if !ok {
		t.Fatalf("returned target %q resolves to %q, which has no http(s) origin", got, u.Href(false))
	}
	if strings.HasPrefix(u.Pathname(), "//") || strings.Contains(u.Pathname(), "\\") {
		t.Fatalf("returned target %q resolves to path %q, readable as another host", got, u.Pathname())
	}
	self, _ := whatwgOrigin(b)
	if landed == self {
		return
	}
	for _, o := range p.origins {
		if o.matches(landed) {
			return
		}
	}
	t.Fatalf("returned target %q resolves to %q: origin %s is neither the request's (%s) nor allowlisted", got, u.Href(false), landed, self)
}

// whatwgOrigin returns the origin of a URL parsed by the browser parser.
func whatwgOrigin(u *whatwg.Url) (origin, bool) {
	scheme := strings.TrimSuffix(u.Protocol(), ":")
	if scheme != "http" && scheme != "https" {
		return origin{}, false
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u.Hostname(), "["), "]")
	if ip := net.ParseIP(host); ip != nil && strings.Contains(host, ":") {
		host = ip.String()
	}
	port := u.DecodedPort()
	if u.Port() == "" {
		port = defaultPort(scheme)
	}
	return origin{scheme: scheme, host: host, port: port}, true
}

// FuzzResolve checks the invariant for arbitrary targets, on an https and an
// http request. `go test` runs the seed corpus; `go test -fuzz FuzzResolve
// ./internal/redirect/` explores further.
func FuzzResolve(f *testing.F) {
	seeds := []string{
		"/", "/dashboard?x=1#y", "//evil.example", "/\\evil.example", "\\\\evil.example",
		"/%2F%2Fevil.example", "/%5Cevil.example", "/%252F%252Fevil.example", "/..//evil.example",
		"/\t/evil.example", "/%09/evil.example", "javascript:alert(1)", "https:evil.example",
		"https:/evil.example", "https:///evil.example", "https://accounts.example.com@evil.example",
		"https://evil.example@accounts.example.com", "https://accounts.example.com/x",
		"https://accounts.example.com.evil.example", "https://a.apps.example.net/",
		"https://apps.example.net/", "https://%61ccounts.example.com/", "HTTPS://ACCOUNTS.EXAMPLE.COM",
		"http://localhost:3000/", "http://localhost:03000/", "https://[2001:db8::1]:8443/",
		"https://app.example.org/self", "http://app.example.org/self", "https:\\\\evil.example",
		"https://evil.example#@accounts.example.com", "/a/./b", "/%2e%2e/x", "?q", "#f", "x",
		"https://accounts.example.com:443/", "https://0x7f.1/", "https://evil.example\u3002com",
		"/\uff0fevil.example", " https://evil.example", "https://accounts.example.com:443@evil.example",
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	p := testPolicy(f)
	f.Fuzz(func(t *testing.T, target string, useTLS bool) {
		base := "http://app.example.org/auth/callback?x=1"
		r := httptest.NewRequest("GET", base, nil)
		if useTLS {
			base = "https://app.example.org/auth/callback?x=1"
			r = httptest.NewRequest("GET", base, nil)
			r.TLS = &tls.ConnectionState{}
		}
		got, ok := p.Resolve(r, target)
		if !ok && got != p.DefaultTarget() {
			t.Fatalf("refused %q but returned %q instead of the default", target, got)
		}
		if ok && got != target {
			t.Fatalf("accepted %q but returned %q", target, got)
		}
		assertLandsSafely(t, p, base, got)
	})
}
